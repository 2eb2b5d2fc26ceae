// What a plugin sees of one request: the input it may rewrite, the rest of the conversation, metadata, who asks.
import { ClawError } from "../core/errors.js";
import type { ChatMessage, Principal } from "../core/types.js";

/** The codes a plugin may refuse a request with; the client receives them as they are. */
export const rejectCodes = ["forbidden", "bad_request"] as const;

export type RejectCode = (typeof rejectCodes)[number];

export interface PluginContext {
  /**
   * The new user message: the WebSocket `message`, or the content of the last message of an OpenAI-style
   * request when that message is a user message (else ""). What it holds after preProcess is what the model
   * sees and what the session stores.
   */
  input: string;
  /**
   * The rest of the conversation that reaches the model, oldest first, apart from the configured system prompt:
   * the session's stored history (WebSocket), or every message of an OpenAI-style request before its last user
   * message. Plugins may edit, add or remove entries; a masking plugin must mask these too.
   */
  messages: ChatMessage[];
  /** Free-form data plugins share with later hooks of the same request (and, later, the audit record). */
  metadata: Record<string, unknown>;
  readonly principal: Principal;
  readonly session: string | undefined;
  readonly requestId: string;
  /** The gateway the request came through ("websocket", "http", …) when known. */
  readonly gateway: string | undefined;
  /** Refuses the request: the client receives this code and message. */
  reject(code: RejectCode, message: string): never;
}

export interface PluginContextFields {
  input: string;
  messages: ChatMessage[];
  principal: Principal;
  session?: string;
  requestId: string;
  gateway?: string;
}

export function createPluginContext(fields: PluginContextFields): PluginContext {
  return {
    input: fields.input,
    messages: fields.messages.map((message) => ({ ...message })),
    metadata: {},
    principal: fields.principal,
    session: fields.session,
    requestId: fields.requestId,
    gateway: fields.gateway,
    reject(code: RejectCode, message: string): never {
      if (!(rejectCodes as readonly string[]).includes(code)) throw new TypeError(`reject: code must be one of ${rejectCodes.join(", ")}`);
      throw new ClawError(code, message);
    },
  };
}

/** Why the context is unusable after a hook, or undefined when it is fine. */
export function describeInvalidContext(context: PluginContext): string | undefined {
  if (typeof context.input !== "string") return `left input as ${describeValue(context.input)}; expected a string`;
  if (!Array.isArray(context.messages)) return `left messages as ${describeValue(context.messages)}; expected an array`;
  for (const [index, message] of context.messages.entries()) {
    const valid =
      typeof message === "object" && message !== null && ["system", "user", "assistant"].includes(message.role) && typeof message.content === "string";
    if (!valid) return `left messages[${index}] invalid; expected {role: "system" | "user" | "assistant", content: string}`;
  }
  if (typeof context.metadata !== "object" || context.metadata === null) return `left metadata as ${describeValue(context.metadata)}; expected an object`;
  return undefined;
}

export function describeValue(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  return typeof value === "object" ? "an object" : typeof value === "string" ? "a string" : `${typeof value}`;
}
