// The small interface every engine implements: render and count a prompt, stream a generation, close.
import type { ChatMessage, FinishPart, GenerationParams, StreamPart, TokenLogprob, ToolCall, ToolChoice, ToolDefinition } from "../core/types.js";
import type { QueueOwner } from "./admission-queue.js";

export interface EngineRequest {
  messages: ChatMessage[];
  /**
   * Raw text (legacy completions): tokenized as it is, special-token text included, with the beginning-of-sequence
   * token when the model wants one; no chat template. When set, `messages` is ignored.
   */
  prompt?: string;
  params: GenerationParams;
  /** Identifies the conversation (owner and session), so its next turn can return to the state that holds it. */
  conversation?: string;
  /** Whose request it is (the token subject) and how many of theirs may wait for a sequence (limits.queue_share_per_subject). */
  owner?: QueueOwner;
  /** Tools the model may call in this generation (one step of the agent loop); none when absent. */
  tools?: EngineTools;
}

/**
 * The tools of one generation. Their catalog is rendered at the start of the prompt (src/engine/tool-prompt.ts), so a
 * sequence's kept state holds it across turns. A call is written `<tool_call>{"name": …, "arguments": …}</tool_call>`.
 */
export interface EngineTools {
  definitions: ToolDefinition[];
  /** `none`: catalogued, never called (the last step); `required`/`{name}`: the generation is one call, nothing else. */
  choice: ToolChoice;
  /**
   * Fill each call under a JSON-schema grammar, so its name is one of the tools and its arguments validate (config
   * `tools.constrained`; always, on engines that can). Otherwise the model writes the call freely and it is parsed.
   */
  constrained: boolean;
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
  /** GPU devices the backend uses (llama engine; empty on the CPU). */
  gpuDevices?: string[];
  /** Model layers offloaded to the GPU (llama engine; 0 on the CPU). */
  gpuLayers?: number;
  /** VRAM in total and in use once the model and its context were loaded (llama engine; 0 on the CPU). */
  vramTotalBytes?: number;
  vramUsedBytes?: number;
  /** LoRA adapters applied to every request, in load order (llama engine). */
  adapters?: { name: string; scale: number }[];
  /** Length of the vectors `embed` returns; undefined when the engine cannot embed. */
  embeddingDimensions?: number;
}

/** What `embed` returns: one L2-normalized vector per text, in order, and the tokens read. */
export interface EmbeddingResult {
  vectors: number[][];
  promptTokens: number;
}

export interface EngineLoad {
  active: number;
  queued: number;
}

/** Decode calls since the engine started (a debug counter the benchmark reads). */
export interface DecodeStats {
  /** llama.cpp decode calls (batches). */
  decodes: number;
  /** Tokens in those batches, prompt tokens included. */
  tokens: number;
  /** Sequences in those batches, summed (all of one sequence's tokens in one batch count once). */
  sequences: number;
}

/** One decode batch (for the batch-size metric). */
export interface DecodeBatch {
  /** Tokens decoded in it, prompt tokens included. */
  tokens: number;
  /** Sequences with tokens in it. */
  sequences: number;
}

/** The compute backend's GPU memory now. */
export interface VramUsage {
  usedBytes: number;
  totalBytes: number;
}

/**
 * What `stream` yields: text deltas and tool calls (requests with `tools`), then one finish (`tool_calls` when it
 * called). Failures are thrown as ClawError.
 */
export type EnginePart =
  | { type: "text-delta"; text: string; logprobs?: TokenLogprob[] }
  | { type: "tool-call"; call: ToolCall }
  /** The generation starts again from nothing (a remote engine whose worker was lost): the parts so far are void. */
  | RestartPart
  | FinishPart;

export type RestartPart = Extract<StreamPart, { type: "restart" }>;

export interface LanguageModel {
  readonly info: EngineInfo;
  /** Requests decoding now and waiting for a sequence. */
  load(): EngineLoad;
  /** Number of tokens the rendered prompt takes (with the tools' catalog when given), including the beginning-of-sequence token. */
  countPromptTokens(messages: ChatMessage[], tools?: ToolDefinition[]): number;
  /**
   * Generates an answer. Throws `overloaded` at once when the queue is full and
   * `context_length_exceeded` when the prompt does not fit; an aborted signal ends with finishReason "cancelled".
   */
  stream(request: EngineRequest, options?: { signal?: AbortSignal }): AsyncGenerator<EnginePart>;
  /**
   * One L2-normalized vector per text, in order (engines that can embed). Throws `context_length_exceeded` naming the
   * index of a text longer than the embedding context, `bad_request` for an empty text, `overloaded` when too many
   * embedding requests wait, and `cancelled` when the signal aborts; nothing is computed unless every text fits.
   */
  embed?(texts: string[], options?: { signal?: AbortSignal }): Promise<EmbeddingResult>;
  /** Decodes and tokens so far (engines that batch decodes; a copy). */
  decodeStats?(): DecodeStats | undefined;
  /**
   * Share of the context's token cells (KV cache) holding evaluated tokens now, 0..1, over all sequences; states kept
   * for reuse count (engines with a KV cache).
   */
  contextUsage?(): number;
  /** Calls `listener` once per decode batch (engines that batch decodes; it must be cheap); returns the unsubscribe function. */
  onDecode?(listener: (batch: DecodeBatch) => void): () => void;
  /** GPU memory used and total now; undefined on the CPU. */
  vram?(): Promise<VramUsage | undefined>;
  close(): Promise<void>;
}
