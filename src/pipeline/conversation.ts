// Splits a request into what plugins see: the new user turn (`input`) and the rest of the conversation.
import { ClawError } from "../core/errors.js";
import type { ChatMessage } from "../core/types.js";
import type { PipelineRequest } from "./pipeline-request.js";

export interface Conversation {
  /** The new user turn ("" when an OpenAI-style request does not end with a user message). */
  input: string;
  /** Whether the request has a new user turn; without one, `input` is not sent. */
  hasTurn: boolean;
  /** Everything else, oldest first: the stored session history, or the request's other messages. */
  messages: ChatMessage[];
  /** Whether the client sent the whole conversation (OpenAI API), which is used as given rather than trimmed. */
  whole: boolean;
}

export function splitConversation(request: PipelineRequest, history: ChatMessage[]): Conversation {
  // A raw prompt (legacy completions) is the whole input: no other messages, nothing added around it.
  if (request.prompt !== undefined) return { input: request.prompt, hasTurn: true, messages: [], whole: true };
  if (request.messages !== undefined) {
    if (request.messages.length === 0) throw new ClawError("bad_request", "messages must not be empty.");
    const last = request.messages[request.messages.length - 1] as ChatMessage;
    if (last.role !== "user") return { input: "", hasTurn: false, messages: request.messages, whole: true };
    return { input: last.content, hasTurn: true, messages: request.messages.slice(0, -1), whole: true };
  }
  if (request.message === undefined) throw new ClawError("bad_request", "A message is required.");
  return { input: request.message, hasTurn: true, messages: history, whole: false };
}
