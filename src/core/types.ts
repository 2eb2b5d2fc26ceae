// The shapes every layer shares: messages, generation parameters, principals and stream parts.
import type { ClawError } from "./errors.js";

export type Role = "system" | "user" | "assistant" | "tool";

export interface ChatMessage {
  role: Role;
  content: string;
  /** An assistant turn's tool calls (its `content` is any text written before them, often ""). */
  toolCalls?: ToolCall[];
  /** A `tool` message: the call it answers. */
  toolCallId?: string;
  /** A `tool` message: the tool's name. */
  name?: string;
}

/** A tool the model may call: its name, what it does, and its arguments' JSON Schema (an object schema). */
export interface ToolDefinition {
  name: string;
  description: string;
  parameters: Record<string, unknown>;
}

/** One call the model made: the OpenAI shape, with the arguments as the JSON text the model wrote. */
export interface ToolCall {
  /** Unique within the conversation ("call_" + random). */
  id: string;
  name: string;
  /** A JSON object's text; validated against the tool's schema before the tool runs. */
  arguments: string;
}

/**
 * Whether the model may, must or must not call tools (the OpenAI API's values): `auto` it decides, `none` it answers,
 * `required` it calls one, `{name}` it calls that one.
 */
export type ToolChoice = "auto" | "none" | "required" | { name: string };

/** How a node-side tool call ended (a `tool-result` part, the audit record). */
export type ToolOutcome = "ok" | "error" | "invalid_arguments" | "forbidden" | "denied" | "timeout";

/**
 * The answer's form: free text, any JSON object, or JSON valid against a schema. The JSON forms are enforced by
 * grammar-constrained decoding, so the answer always parses (and validates).
 */
export type ResponseFormat =
  | { type: "text" }
  | { type: "json_object" }
  | { type: "json_schema"; schema: Record<string, unknown>; name?: string };

/** One generated token's log-probability, with the most likely alternatives at its place when asked for. */
export interface TokenLogprob {
  token: string;
  logprob: number;
  /** The token's UTF-8 bytes (a token can hold part of a character). */
  bytes: number[];
  /** Most likely tokens at this position, most likely first (empty unless `logprobs.top` > 0). */
  top: { token: string; logprob: number; bytes: number[] }[];
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
  /** Constrain the answer to JSON (undefined or `text`: free text). */
  responseFormat?: ResponseFormat;
  /** Report each generated token's log-probability and `top` (0–20) alternatives (undefined: none). */
  logprobs?: { top: number };
  /**
   * Watermark the answer (green-list token bias, docs/security.md "Watermarking"); undefined: `watermark.enabled`.
   * Set by the node (the policy, per role), never from a client's request.
   */
  watermark?: boolean;
}

/** `tool_calls`: the answer is calls of client-side tools (OpenAI API), which the client runs and sends back. */
export type FinishReason = "stop" | "length" | "cancelled" | "tool_calls";

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

/** A knowledge-base chunk an answer was given as a source: its document, where it came from, and its search score. */
export interface Citation {
  /** The number of its source tag in the prompt ([1], [2], …), in rank order. */
  index: number;
  /** The document's id (a record's id field, or the file's path relative to the ingest root). */
  docId: string;
  collection: string;
  /** Where the document came from (the file path, with a record's line for jsonl/csv). */
  source: string;
  /** The chunk's position within its document, from 0. */
  chunk: number;
  /** Its fused retrieval score (higher is better; comparable within one answer only). */
  score: number;
}

/** What the engine and the pipeline emit, in order: text deltas, then exactly one finish or error. */
export type StreamPart =
  | { type: "text-delta"; text: string; logprobs?: TokenLogprob[] }
  | {
      type: "finish";
      text: string;
      finishReason: FinishReason;
      usage: Usage;
      timings: Timings;
      /** Every delivered token's logprob, when asked for and no plugin may rewrite the text (the deltas carried them too). */
      logprobs?: TokenLogprob[];
      /** The knowledge-base chunks put into the prompt, when any were (set by the pipeline, never by an engine). */
      citations?: Citation[];
      /** The calls the client must run (finishReason `tool_calls`): client-side tools only. */
      toolCalls?: ToolCall[];
    }
  /** The model called a tool the node runs (plugin, MCP, built-in); its `tool-result` follows. */
  | { type: "tool-call"; call: ToolCall }
  /** A node-side tool call's result, as it goes back to the model (`content`, truncated to `tools.max_result_chars`). */
  | { type: "tool-result"; callId: string; name: string; outcome: ToolOutcome; content: string; durationMs: number }
  /** A `confirm: true` tool waits for the client's approval of this call (WebSocket `tool.approve`). */
  | { type: "tool-approval"; call: ToolCall; timeoutMs: number }
  /**
   * The generation in progress starts again (in a cluster, its worker stopped answering and another one took it): the
   * text since the last tool result (or the answer's start) is void, and the complete text follows.
   */
  | { type: "restart"; reason: RestartReason; attempt: number }
  | { type: "error"; error: ClawError };

/** Why a generation started again: `worker_lost` — the worker generating it died or stopped answering. */
export type RestartReason = "worker_lost";

export type FinishPart = Extract<StreamPart, { type: "finish" }>;
