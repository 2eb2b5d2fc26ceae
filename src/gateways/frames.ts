// The JSON frames of the Clawbot protocol (WebSocket, MQTT, custom adapters): parse in, serialise out.
import { z } from "zod";
import { ClawError } from "../core/errors.js";
import type { GenerationParams, StreamPart, ToolCall } from "../core/types.js";
import { citationEntries, knowledgeFieldSchema } from "./knowledge-field.js";
import { logprobEntries, logprobsSchema, toLogprobsParam, topLogprobsSchema } from "./logprobs-fields.js";
import { responseFormatSchema, toResponseFormat } from "./response-format.js";
import { agentFieldSchema, toolApproveFields, toolChoiceFieldSchema } from "./tool-choice-field.js";

const paramsSchema = z
  .strictObject({
    max_tokens: z.number().int().positive().optional(),
    temperature: z.number().min(0).max(2).optional(),
    top_p: z.number().gt(0).max(1).optional(),
    seed: z.number().int().optional(),
    stop: z.union([z.string(), z.array(z.string()).max(8)]).optional(),
    adapter: z.string().min(1).max(128).optional(),
    /** OpenAI's response_format: JSON answers, enforced by grammar-constrained decoding (llama engine). */
    response_format: responseFormatSchema.optional(),
    logprobs: logprobsSchema,
    top_logprobs: topLogprobsSchema,
    /** The knowledge base for this turn (not a generation parameter: it becomes PipelineRequest.knowledge). */
    knowledge: knowledgeFieldSchema,
    /** Whether the model may, must or must not call tools (PipelineRequest.toolChoice); `auto` when absent. */
    tool_choice: toolChoiceFieldSchema.optional(),
    /** The agent to run as (PipelineRequest.agent); the gateway's default, else `default`, when absent. */
    agent: agentFieldSchema.optional(),
  })
  .refine((params) => params.logprobs === true || params.top_logprobs === undefined || params.top_logprobs === null, {
    message: 'top_logprobs needs "logprobs": true',
    path: ["top_logprobs"],
  });

const idSchema = z.string().min(1).max(128);
const sessionSchema = z.string().min(1).max(256);

export const clientFrameSchema = z.discriminatedUnion("type", [
  z.strictObject({
    type: z.literal("chat"),
    id: idSchema,
    session: sessionSchema.optional(),
    message: z.string(),
    params: paramsSchema.optional(),
  }),
  z.strictObject({ type: z.literal("cancel"), id: idSchema }),
  z.strictObject({ type: z.literal("ping") }),
  z.strictObject({ type: z.literal("auth"), token: z.string().min(1) }),
  /** Approves or denies a `confirm: true` tool call of request `id` that a `tool-approval` frame asked about (WebSocket). */
  z.strictObject({ type: z.literal("tool.approve"), id: idSchema, ...toolApproveFields }),
  /** Lists the caller's own sessions, newest activity first, a page at a time (session-frames.ts answers). */
  z.strictObject({
    type: z.literal("sessions"),
    id: idSchema,
    limit: z.number().int().min(1).max(200).optional(),
    // Past 2^53 an offset is no longer an exact integer (and SQLite refuses it): no list is that long anyway.
    offset: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER).optional(),
  }),
  /** Loads one of the caller's own sessions: its questions and answers, oldest first. */
  z.strictObject({ type: z.literal("history"), id: idSchema, session: sessionSchema }),
]);

export type ClientFrame = z.infer<typeof clientFrameSchema>;
export type ChatFrame = Extract<ClientFrame, { type: "chat" }>;
export type ToolApproveFrame = Extract<ClientFrame, { type: "tool.approve" }>;
/** The frames that read the caller's own stored sessions. */
export type SessionReadFrame = Extract<ClientFrame, { type: "sessions" | "history" }>;

export type FrameError = { error: ClawError; id: string | null };

/** Parses one frame; a bad frame becomes a ClawError with the id when one could be read. */
export function parseClientFrame(text: string): { frame: ClientFrame } | FrameError {
  const value = parseJson(text);
  if (value === invalidJson) return { error: new ClawError("bad_request", "The frame is not valid JSON."), id: null };
  return parseFrameValue(value);
}

/** A frame from a stateless transport (MQTT): the protocol frame plus the fields each message carries for itself. */
export interface TransportFrame {
  frame: Exclude<ClientFrame, { type: "auth" | "tool.approve" }>;
  /** The JWT, verified for this one request (there is no connection to authenticate). */
  token: string | undefined;
  /** false: only the final `finish` (or `error`) frame is sent, no `text-delta`s. */
  stream: boolean;
}

const transportFieldsSchema = z.object({ token: z.string().min(1).optional(), stream: z.boolean().optional() });

/**
 * Parses a frame that may carry `token` and `stream`; an `auth` frame is refused, since each message brings its own
 * token, and a `tool.approve` frame, since there is no approval channel (tools that need approval are denied).
 */
export function parseTransportFrame(text: string): TransportFrame | FrameError {
  const value = parseJson(text);
  if (value === invalidJson) return { error: new ClawError("bad_request", "The frame is not valid JSON."), id: null };
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    return { error: new ClawError("bad_request", "Invalid frame: expected a JSON object"), id: null };
  }
  const { token, stream, ...rest } = value as Record<string, unknown>;
  const fields = transportFieldsSchema.safeParse({ token, stream });
  if (!fields.success) return invalidFrame(fields.error, readId(value));
  if (rest.type === "auth") {
    return { error: new ClawError("bad_request", "There is no auth frame here: put the token in each request's token field."), id: readId(value) };
  }
  if (rest.type === "tool.approve") {
    return { error: new ClawError("bad_request", "There is no tool.approve frame here: this transport has no approval channel, so tools that need approval are denied."), id: null };
  }
  const parsed = parseFrameValue(rest);
  if ("error" in parsed) return parsed;
  return { frame: parsed.frame as TransportFrame["frame"], token: fields.data.token, stream: fields.data.stream ?? true };
}

const invalidJson = Symbol("invalid JSON");

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return invalidJson;
  }
}

function parseFrameValue(value: unknown): { frame: ClientFrame } | FrameError {
  const result = clientFrameSchema.safeParse(value);
  if (result.success) return { frame: result.data };
  // A refused tool.approve names a request that goes on: an error frame with its id would read as that request's end.
  const approval = typeof value === "object" && value !== null && (value as { type?: unknown }).type === "tool.approve";
  return invalidFrame(result.error, approval ? null : readId(value));
}

function readId(value: unknown): string | null {
  return typeof value === "object" && value !== null && typeof (value as { id?: unknown }).id === "string" ? (value as { id: string }).id : null;
}

function invalidFrame(error: z.ZodError, id: string | null): FrameError {
  const issue = error.issues[0];
  const where = issue && issue.path.length > 0 ? `${issue.path.join(".")}: ` : "";
  const param = issue ? paramOf(issue.path) : undefined;
  return { error: new ClawError("bad_request", `Invalid frame: ${where}${issue?.message ?? "unknown error"}`, param ? { param } : undefined), id };
}

/**
 * The field an invalid frame's error is about, as `param`: a key of `params` by its own name (as the pipeline's errors
 * name them: "tool_choice", "max_tokens"), any other by the frame's key ("message", "call_id").
 */
function paramOf(path: readonly (string | number)[]): string | undefined {
  const [first, second] = path;
  if (first === "params" && typeof second === "string") return second;
  return typeof first === "string" ? first : undefined;
}

export function toGenerationParams(params: ChatFrame["params"]): Partial<GenerationParams> {
  if (!params) return {};
  return {
    maxTokens: params.max_tokens,
    temperature: params.temperature,
    topP: params.top_p,
    seed: params.seed,
    stop: typeof params.stop === "string" ? [params.stop] : params.stop,
    adapter: params.adapter,
    responseFormat: toResponseFormat(params.response_format),
    logprobs: toLogprobsParam(params.logprobs, params.top_logprobs),
  };
}

/** The server → client frame for one stream part, in the protocol's snake_case. */
export function serverFrame(id: string | null, part: StreamPart): Record<string, unknown> {
  switch (part.type) {
    case "text-delta":
      if (part.logprobs) return { type: "text-delta", id, text: part.text, logprobs: logprobEntries(part.logprobs) };
      return { type: "text-delta", id, text: part.text };
    case "finish":
      return {
        type: "finish",
        id,
        text: part.text,
        finish_reason: part.finishReason,
        usage: {
          prompt_tokens: part.usage.promptTokens,
          completion_tokens: part.usage.completionTokens,
          ...(part.usage.cachedPromptTokens !== undefined ? { cached_prompt_tokens: part.usage.cachedPromptTokens } : {}),
        },
        timings: { queue_ms: round(part.timings.queueMs), ttft_ms: round(part.timings.ttftMs), total_ms: round(part.timings.totalMs) },
        ...(part.logprobs ? { logprobs: logprobEntries(part.logprobs) } : {}),
        ...(part.citations && part.citations.length > 0 ? { citations: citationEntries(part.citations) } : {}),
        ...(part.toolCalls && part.toolCalls.length > 0 ? { tool_calls: part.toolCalls.map(toolCallEntry) } : {}),
      };
    case "tool-call":
      return { type: "tool-call", id, call: toolCallEntry(part.call) };
    case "tool-result":
      return { type: "tool-result", id, call_id: part.callId, name: part.name, outcome: part.outcome, content: part.content, duration_ms: round(part.durationMs) };
    case "tool-approval":
      return { type: "tool-approval", id, call: toolCallEntry(part.call), timeout_ms: part.timeoutMs };
    case "restart":
      return { type: "restart", id, reason: part.reason, attempt: part.attempt };
    case "error":
      return errorFrame(id, part.error);
  }
}

/** A tool call in the protocol's (and the OpenAI API's) shape: arguments as JSON text. */
export function toolCallEntry(call: ToolCall): Record<string, unknown> {
  return { id: call.id, name: call.name, arguments: call.arguments };
}

/** An `error` frame: the code and message, `param` when the error is about one request field, `retry_after` when set. */
export function errorFrame(id: string | null, error: ClawError): Record<string, unknown> {
  return {
    type: "error",
    id,
    code: error.code,
    message: error.message,
    ...(error.param !== undefined ? { param: error.param } : {}),
    ...(error.retryAfter !== undefined ? { retry_after: error.retryAfter } : {}),
  };
}

function round(milliseconds: number): number {
  return Math.round(milliseconds * 100) / 100;
}
