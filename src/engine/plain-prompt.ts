// The prompt for models without a chat template: plain text, as the model read and wrote it.
import type { ChatMessage } from "../core/types.js";

/**
 * The system prompt, then the turns. A base model's answer continues the text it was given, so an answer
 * follows its question directly and every other turn starts on a new line. The prompt of a follow-up turn
 * therefore begins with exactly the text the model already evaluated, and that state can be reused.
 */
export function renderPlainPrompt(messages: ChatMessage[]): string {
  let text = "";
  let previous: ChatMessage | undefined;
  for (const message of messages) {
    if (message.content.length === 0) continue;
    const continuesQuestion = previous?.role === "user" && message.role === "assistant";
    text += previous === undefined || continuesQuestion ? message.content : `\n${message.content}`;
    previous = message;
  }
  return text;
}
