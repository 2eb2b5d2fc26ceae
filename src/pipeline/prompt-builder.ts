// Builds the message list for the engine: system prompt, history trimmed oldest-first to fit, and the new turn.
import type { AgentConfig } from "../config/schema.js";
import { ClawError } from "../core/errors.js";
import type { ChatMessage } from "../core/types.js";
import type { LanguageModel } from "../engine/language-model.js";
import type { PipelineRequest } from "./pipeline.js";

export interface BuildPromptInput {
  agent: AgentConfig;
  engine: LanguageModel;
  request: PipelineRequest;
  history: ChatMessage[];
  maxTokens: number;
}

export function buildPrompt({ agent, engine, request, history, maxTokens }: BuildPromptInput): ChatMessage[] {
  const system: ChatMessage[] = agent.system_prompt ? [{ role: "system", content: agent.system_prompt }] : [];
  if (request.messages !== undefined) {
    if (request.messages.length === 0) throw new ClawError("bad_request", "messages must not be empty.");
    const hasSystem = request.messages.some((message) => message.role === "system");
    return hasSystem ? request.messages : [...system, ...request.messages];
  }
  if (request.message === undefined) throw new ClawError("bad_request", "A message is required.");
  const turn: ChatMessage = { role: "user", content: request.message };
  // Keep room for the answer: up to max_tokens, but never more than half the context.
  const contextSize = engine.info.contextSize;
  const budget = contextSize - Math.min(maxTokens, Math.floor(contextSize / 2));
  let kept = history;
  let messages = [...system, ...kept, turn];
  while (kept.length > 0 && engine.countPromptTokens(messages) > budget) {
    // Drop the oldest exchange (a user turn and its answer) together.
    kept = kept.slice(Math.min(2, kept.length));
    messages = [...system, ...kept, turn];
  }
  return messages;
}
