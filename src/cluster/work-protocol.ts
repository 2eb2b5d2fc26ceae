// The work queue's wire messages: a request on the stream, a worker's replies on the gateway's inbox, a cancellation;
// each decoded with zod, so a malformed or hostile message is a refusal, never an exception.
import { z } from "zod";
import { isErrorCode, type ErrorCode } from "../core/errors.js";
import type { EnginePart, EngineRequest } from "../engine/language-model.js";

/** Version of these messages; a node refuses others (a mixed-version cluster fails loudly, not subtly). */
export const workProtocolVersion = 1;

/** A request on the work stream: everything a worker needs to run `engine.stream` and answer. */
export interface WorkRequest {
  v: typeof workProtocolVersion;
  /** The gateway's id of the request (also the cancel subject's last token). */
  id: string;
  /** 1, or 2 after a targeted request no worker started was withdrawn and sent to any worker. */
  attempt: number;
  /** The gateway's inbox for this request's replies. */
  reply: string;
  /** Epoch ms after which no worker may start it. */
  deadline: number;
  /** The node that took the client's request. */
  origin: string;
  request: EngineRequest;
}

/** Fields every reply carries: which try of the request it belongs to. */
interface ReplyBase {
  id: string;
  attempt: number;
  /** JetStream's delivery count of the message at the worker (1 on the first delivery). */
  delivery: number;
}

export type WorkReply =
  | (ReplyBase & { type: "start"; node: string; seq: number })
  | (ReplyBase & { type: "part"; part: Exclude<EnginePart, { type: "restart" }> })
  /** Sent every ~1 s while the worker holds the request (the gateway's watchdog). */
  | (ReplyBase & { type: "working" })
  /** The worker gave the request back without an answer (its engine was busy): another delivery follows. */
  | (ReplyBase & { type: "requeue" })
  | (ReplyBase & { type: "error"; code: ErrorCode; message: string; param?: string; retry_after?: number });

/** A cancellation on `names.cancel(id)`: every try of the request, or only the one named. */
export interface WorkCancel {
  attempt?: number;
  delivery?: number;
}

export type Decoded<T> = { ok: true; value: T } | { ok: false; reason: string };

const subjectToken = z.string().regex(/^[A-Za-z0-9_-]{1,128}$/);
const count = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);
const positive = z.number().int().min(1).max(1_000_000);
const shortText = z.string().max(1_000_000);
const json = z.record(z.string(), z.unknown());

const toolCall = z.object({ id: z.string().max(200), name: z.string().max(200), arguments: shortText });
const message = z.object({
  role: z.enum(["system", "user", "assistant", "tool"]),
  content: z.string(),
  toolCalls: z.array(toolCall).max(1000).optional(),
  toolCallId: z.string().max(200).optional(),
  name: z.string().max(200).optional(),
});
const responseFormat = z.union([
  z.object({ type: z.literal("text") }),
  z.object({ type: z.literal("json_object") }),
  z.object({ type: z.literal("json_schema"), schema: json, name: z.string().max(200).optional() }),
]);
const params = z.object({
  maxTokens: z.number().int().min(0),
  temperature: z.number().min(0),
  topP: z.number().optional(),
  seed: z.number().int().optional(),
  stop: z.array(z.string()).max(64).optional(),
  adapter: z.string().max(200).optional(),
  responseFormat: responseFormat.optional(),
  logprobs: z.object({ top: z.number().int().min(0).max(20) }).optional(),
  watermark: z.boolean().optional(),
});
const toolChoice = z.union([z.enum(["auto", "none", "required"]), z.object({ name: z.string().max(200) })]);
const engineRequest = z.object({
  messages: z.array(message).max(100_000),
  prompt: z.string().optional(),
  params,
  conversation: z.string().max(1000).optional(),
  owner: z.object({ key: z.string().max(1000), maxQueued: z.number().int().min(0) }).optional(),
  tools: z
    .object({
      definitions: z.array(z.object({ name: z.string().max(200), description: z.string(), parameters: json })).max(1000),
      choice: toolChoice,
      constrained: z.boolean(),
    })
    .optional(),
});

const workRequest = z.object({
  v: z.literal(workProtocolVersion),
  id: subjectToken,
  attempt: positive,
  reply: z.string().regex(/^[A-Za-z0-9_.-]{1,512}$/, "a subject without wildcards"),
  deadline: count,
  origin: z.string().max(200),
  request: engineRequest,
});

const logprob = z.object({
  token: z.string(),
  logprob: z.number(),
  bytes: z.array(z.number().int()),
  top: z.array(z.object({ token: z.string(), logprob: z.number(), bytes: z.array(z.number().int()) })),
});
const part = z.discriminatedUnion("type", [
  z.object({ type: z.literal("text-delta"), text: z.string(), logprobs: z.array(logprob).optional() }),
  z.object({ type: z.literal("tool-call"), call: toolCall }),
  z.object({
    type: z.literal("finish"),
    text: z.string(),
    finishReason: z.enum(["stop", "length", "cancelled", "tool_calls"]),
    usage: z.object({ promptTokens: count, completionTokens: count, cachedPromptTokens: count.optional() }),
    timings: z.object({ queueMs: z.number(), ttftMs: z.number(), totalMs: z.number() }),
    logprobs: z.array(logprob).optional(),
    toolCalls: z.array(toolCall).optional(),
  }),
]);
const base = { id: subjectToken, attempt: positive, delivery: positive };
// A code this node does not know (a newer node's) still fails the request, as `internal`.
const errorCode = z
  .string()
  .max(64)
  .transform((code): ErrorCode => (isErrorCode(code) ? code : "internal"));
const workReply = z.discriminatedUnion("type", [
  z.object({ ...base, type: z.literal("start"), node: z.string().max(200), seq: count }),
  z.object({ ...base, type: z.literal("part"), part }),
  z.object({ ...base, type: z.literal("working") }),
  z.object({ ...base, type: z.literal("requeue") }),
  z.object({ ...base, type: z.literal("error"), code: errorCode, message: z.string().max(10_000), param: z.string().max(1000).optional(), retry_after: count.optional() }),
]);
const workCancel = z.object({ attempt: positive.optional(), delivery: positive.optional() });

const decoder = new TextDecoder("utf-8", { fatal: true });

function decode<T>(schema: z.ZodType, bytes: Uint8Array, what: string): Decoded<T> {
  let value: unknown;
  try {
    value = JSON.parse(decoder.decode(bytes));
  } catch {
    return { ok: false, reason: `${what} is not UTF-8 JSON` };
  }
  const result = schema.safeParse(value);
  if (!result.success) {
    const issue = result.error.issues[0];
    return { ok: false, reason: `${what} is malformed${issue ? ` at ${issue.path.join(".") || "the top"}: ${issue.message}` : ""}` };
  }
  return { ok: true, value: result.data as T };
}

export function decodeWorkRequest(bytes: Uint8Array): Decoded<WorkRequest> {
  return decode(workRequest, bytes, "work request");
}

export function decodeWorkReply(bytes: Uint8Array): Decoded<WorkReply> {
  return decode(workReply, bytes, "work reply");
}

export function decodeWorkCancel(bytes: Uint8Array): Decoded<WorkCancel> {
  // An empty message cancels every try.
  if (bytes.length === 0) return { ok: true, value: {} };
  return decode(workCancel, bytes, "work cancel");
}

const encoder = new TextEncoder();

export function encodeWork(message: WorkRequest | WorkReply | WorkCancel): Uint8Array {
  return encoder.encode(JSON.stringify(message));
}
