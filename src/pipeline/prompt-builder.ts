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

/** Oldest history is dropped in blocks of this many messages (four exchanges of a question and its answer). */
const trimBlockMessages = 8;

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
  let dropped = 0;
  let messages = [...system, ...earlier, ...newTurn];
  while (dropped < earlier.length && engine.countPromptTokens(messages) > budget) {
    // Drop the oldest exchanges a block at a time: the kept history then starts at the same message for
    // several turns, so the state the engine holds for it stays reusable instead of being read again each turn.
    dropped = Math.min(dropped + trimBlockMessages, earlier.length);
    messages = [...system, ...earlier.slice(dropped), ...newTurn];
  }
  return messages;
}
