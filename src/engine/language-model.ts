// The small interface every engine implements: render and count a prompt, stream a generation, close.
import type { ChatMessage, FinishPart, GenerationParams } from "../core/types.js";

export interface EngineRequest {
  messages: ChatMessage[];
  params: GenerationParams;
}

export interface EngineInfo {
  engine: "llama" | "echo";
  /** The model's name (file name without extension, or "echo"). */
  model: string;
  /** Tokens each sequence can hold. */
  contextSize: number;
  /** Sequences decoded in one batch. */
  parallel: number;
  maxQueue: number;
  threads: number;
  /** Whether the model's own chat template renders prompts (else plain completion). */
  chatTemplate: boolean;
  /** Compute backend in use: "cpu", "cuda", "vulkan", "metal". */
  backend: string;
}

export interface EngineLoad {
  active: number;
  queued: number;
}

/** What `stream` yields: text deltas, then one finish. Failures are thrown as ClawError. */
export type EnginePart = { type: "text-delta"; text: string } | FinishPart;

export interface LanguageModel {
  readonly info: EngineInfo;
  /** Requests decoding now and waiting for a sequence. */
  load(): EngineLoad;
  /** Number of tokens the rendered prompt takes, including the beginning-of-sequence token. */
  countPromptTokens(messages: ChatMessage[]): number;
  /**
   * Generates an answer. Throws `overloaded` at once when the queue is full and
   * `context_length_exceeded` when the prompt does not fit; an aborted signal ends with finishReason "cancelled".
   */
  stream(request: EngineRequest, options?: { signal?: AbortSignal }): AsyncGenerator<EnginePart>;
  close(): Promise<void>;
}
