// Builds the message list for the engine: system prompt, history trimmed oldest-first to fit, and the new turn.
import type { AgentConfig } from "../config/schema.js";
import { ClawError } from "../core/errors.js";
import type { ChatMessage, ToolDefinition } from "../core/types.js";
import type { LanguageModel } from "../engine/language-model.js";
import { isToolStep } from "../core/tool-messages.js";

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
  /** The tools whose catalog opens the prompt (it takes room, like the system prompt). */
  tools?: ToolDefinition[];
  /**
   * Token counts already known for history messages (stored with them), by `tokenCountKey`; a message whose
   * content a plugin changed is not found and is counted here.
   */
  tokenCounts?: ReadonlyMap<string, number>;
  /** Stored position of `messages[0]`: trimming blocks are aligned to positions, so they stay put as old messages are deleted. */
  firstPosition?: number;
}

/** Oldest history is dropped in blocks of this many messages (four exchanges of a question and its answer). */
const trimBlockMessages = 8;

export function buildPrompt(input: BuildPromptInput): ChatMessage[] {
  const { agent, engine, messages: earlier, turn, whole, maxTokens } = input;
  const system: ChatMessage[] = agent.system_prompt ? [{ role: "system", content: agent.system_prompt }] : [];
  const newTurn: ChatMessage[] = turn === undefined ? [] : [{ role: "user", content: turn }];
  if (whole) {
    const conversation = [...earlier, ...newTurn];
    if (conversation.length === 0) throw new ClawError("bad_request", "messages must not be empty.");
    const hasSystem = conversation.some((message) => message.role === "system");
    return hasSystem ? conversation : [...system, ...conversation];
  }
  // No history: nothing to trim, and nothing to count here (the engine refuses a prompt that does not fit).
  if (earlier.length === 0) return [...system, ...newTurn];
  const budget = promptBudget(engine.info.contextSize, maxTokens);
  const promptFrom = (start: number) => [...system, ...earlier.slice(start), ...newTurn];
  const fits = (start: number) => engine.countPromptTokens(promptFrom(start), input.tools) <= budget;
  // Drop the oldest exchanges a block at a time: the kept history then starts at the same message for several
  // turns, so the state the engine holds for it stays reusable instead of being read again each turn. Blocks
  // follow stored positions, so they stay put while the session cap deletes the oldest messages.
  const starts = trimStarts(earlier, input.firstPosition ?? 0);
  // Which blocks to drop is decided from per-message counts (stored with the history), not by tokenizing the
  // whole prompt again for every block: that made each turn of a long session cost its whole history.
  const counts = earlier.map((message) => input.tokenCounts?.get(tokenCountKey(message)) ?? messageTokens(engine, message));
  const fixed = engine.countPromptTokens([...system, ...newTurn], input.tools);
  /** after[start]: tokens of the history from `start` to its end. */
  const after = new Array<number>(earlier.length + 1).fill(0);
  for (let index = earlier.length - 1; index >= 0; index -= 1) after[index] = (after[index + 1] as number) + (counts[index] as number);
  const estimate = (start: number) => fixed + (after[start] as number);
  let chosen = starts.findIndex((start) => estimate(start) <= budget);
  if (chosen === -1) chosen = starts.length - 1;
  // Then real counts of the prompt, usually one: where messages meet, tokens can differ a little from the sum of
  // the messages' counts (about one per message), so a block the estimate drops or keeps by that little is checked.
  if (fits(starts[chosen] as number)) {
    const slack = (start: number) => earlier.length - start + 1;
    while (chosen > 0 && estimate(starts[chosen - 1] as number) <= budget + slack(starts[chosen - 1] as number) && fits(starts[chosen - 1] as number)) chosen -= 1;
  } else {
    while (chosen < starts.length - 1 && !fits(starts[++chosen] as number));
  }
  return promptFrom(starts[chosen] as number);
}

/**
 * Where a kept history may start, ascending, ending with `earlier.length` (none kept): its first message, then the
 * first question at or after each block boundary. Never at an agent-loop tool step: a tool result without the call it
 * answers, or calls without their question, cannot begin a prompt.
 */
function trimStarts(earlier: readonly ChatMessage[], firstPosition: number): number[] {
  let first = 0;
  while (first < earlier.length && isToolStep(earlier[first] as ChatMessage)) first += 1;
  const starts = [first];
  let question = first;
  for (let index = first + 1; index < earlier.length; index += 1) {
    if ((firstPosition + index) % trimBlockMessages !== 0 || index < question) continue;
    question = index;
    while (question < earlier.length && earlier[question]?.role !== "user") question += 1;
    if (question > (starts[starts.length - 1] as number)) starts.push(question);
  }
  if (starts[starts.length - 1] !== earlier.length) starts.push(earlier.length);
  return starts;
}


/** Tokens a prompt may take: the context, less room for the answer (up to max_tokens, never more than half the context). */
export function promptBudget(contextSize: number, maxTokens: number): number {
  return contextSize - Math.min(maxTokens, Math.floor(contextSize / 2));
}

/** Tokens one message adds to a prompt: its rendering alone, less what an empty prompt takes (BOS, template). */
export function messageTokens(engine: LanguageModel, message: ChatMessage): number {
  return Math.max(1, engine.countPromptTokens([message]) - engine.countPromptTokens([]));
}

/** The key of a message in `BuildPromptInput.tokenCounts`. */
export function tokenCountKey(message: ChatMessage): string {
  // Tool steps differ by their calls or the call they answer (a call's assistant text is often "").
  const tool = message.toolCalls && message.toolCalls.length > 0 ? JSON.stringify(message.toolCalls) : (message.toolCallId ?? "");
  return `${message.role}\u0000${message.content}\u0000${tool}`;
}

/** Names the tokenizer stored token counts were made with: another engine or model counts differently. */
export function tokenizerId(engine: LanguageModel): string {
  return `${engine.info.engine}:${engine.info.model}`;
}
