// The shapes every layer shares: messages, generation parameters, principals and stream parts.
import type { ClawError } from "./errors.js";

export type Role = "system" | "user" | "assistant";

export interface ChatMessage {
  role: Role;
  content: string;
}

/** Sampling and length settings for one generation; defaults come from the agent config. */
export interface GenerationParams {
  maxTokens: number;
  temperature: number;
  topP?: number;
  seed?: number;
  stop?: string[];
  /** Name of a LoRA adapter the answer must use; refused (bad_request) unless the engine applies it. */
  adapter?: string;
}

export type FinishReason = "stop" | "length" | "cancelled";

export interface Usage {
  promptTokens: number;
  completionTokens: number;
  /** Prompt tokens found already evaluated in the sequence's state (not evaluated again). */
  cachedPromptTokens?: number;
}

export interface Timings {
  queueMs: number;
  ttftMs: number;
  totalMs: number;
}

/** Who is asking: taken from a verified token. */
export interface Principal {
  subject: string;
  roles: string[];
  scopes: string[];
  claims: Record<string, unknown>;
}

/** What the engine and the pipeline emit, in order: text deltas, then exactly one finish or error. */
export type StreamPart =
  | { type: "text-delta"; text: string }
  | { type: "finish"; text: string; finishReason: FinishReason; usage: Usage; timings: Timings }
  | { type: "error"; error: ClawError };

export type FinishPart = Extract<StreamPart, { type: "finish" }>;
