// Recognises the agent loop's messages in a conversation (the store and the prompt builder keep them together).
import type { ChatMessage } from "./types.js";

/** A message of the agent loop between a question and its answer: an assistant turn's calls, or a tool's result. */
export function isToolStep(message: ChatMessage): boolean {
  return message.role === "tool" || (message.role === "assistant" && (message.toolCalls?.length ?? 0) > 0);
}
