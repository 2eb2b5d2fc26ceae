// Builds the message list for the engine: system prompt, history trimmed oldest-first to fit, and the new turn.
import type { AgentConfig } from "../config/schema.js";
import { ClawError } from "../core/errors.js";
import type { ChatMessage } from "../core/types.js";
import type { LanguageModel } from "../engine/language-model.js";

export interface BuildPromptInput {
  agent: AgentConfig;
  engine: LanguageModel;
  /** The conversation before the new turn (after plugins): stored history, or the client's other messages. */
  messages: ChatMessage[];
  /** The new user turn, if the request has one. */
  turn: string | undefined;
  /** The client sent the whole conversation (OpenAI API): used as given, with the configured system prompt when it has none. */
  whole: boolean;
  maxTokens: number;
}

export function buildPrompt({ agent, engine, messages: earlier, turn, whole, maxTokens }: BuildPromptInput): ChatMessage[] {
  const system: ChatMessage[] = agent.system_prompt ? [{ role: "system", content: agent.system_prompt }] : [];
  const newTurn: ChatMessage[] = turn === undefined ? [] : [{ role: "user", content: turn }];
  if (whole) {
    const conversation = [...earlier, ...newTurn];
    if (conversation.length === 0) throw new ClawError("bad_request", "messages must not be empty.");
    const hasSystem = conversation.some((message) => message.role === "system");
    return hasSystem ? conversation : [...system, ...conversation];
  }
  // Keep room for the answer: up to max_tokens, but never more than half the context.
  const contextSize = engine.info.contextSize;
  const budget = contextSize - Math.min(maxTokens, Math.floor(contextSize / 2));
  let kept = earlier;
  let messages = [...system, ...kept, ...newTurn];
  while (kept.length > 0 && engine.countPromptTokens(messages) > budget) {
    // Drop the oldest exchange (a user turn and its answer) together.
    kept = kept.slice(Math.min(2, kept.length));
    messages = [...system, ...kept, ...newTurn];
  }
  return messages;
}
