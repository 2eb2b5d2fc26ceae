// The prompt for models without a chat template: the system prompt as a prefix, then each turn on its own line.
import type { ChatMessage } from "../core/types.js";

export function renderPlainPrompt(messages: ChatMessage[]): string {
  return messages
    .map((message) => message.content)
    .filter((content) => content.length > 0)
    .join("\n");
}
