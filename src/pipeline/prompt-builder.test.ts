// The prompt builder trims a long history from per-message counts: one real count of the prompt, not one per block.
import { describe, expect, it, vi } from "vitest";
import { configSchema } from "../config/schema.js";
import type { ChatMessage } from "../core/types.js";
import { EchoEngine } from "../engine/echo/echo-engine.js";
import { buildPrompt, messageTokens, promptBudget, tokenCountKey } from "./prompt-builder.js";

const agent = configSchema.parse({ agent: { engine: "echo", system_prompt: "You are a helpful assistant." } }).agent;

function history(exchanges: number): ChatMessage[] {
  return Array.from({ length: exchanges }, (_, turn): ChatMessage[] => [
    { role: "user", content: `question ${turn} with a few more words in it` },
    { role: "assistant", content: `answer ${turn} `.repeat(1 + (turn % 5)) },
  ]).flat();
}

describe("buildPrompt", () => {
  it("keeps the longest block-aligned tail that fits, counting the whole prompt once", () => {
    const engine = new EchoEngine({ contextSize: 512, parallel: 1, maxQueue: 1 });
    const earlier = history(300);
    const tokenCounts = new Map(earlier.map((message) => [tokenCountKey(message), messageTokens(engine, message)]));
    const counted: number[] = [];
    const count = vi.spyOn(engine, "countPromptTokens").mockImplementation(function (this: EchoEngine, messages: ChatMessage[]) {
      counted.push(messages.length);
      return EchoEngine.prototype.countPromptTokens.call(this, messages);
    });
    const maxTokens = 64;
    const messages = buildPrompt({ agent, engine, messages: earlier, turn: "new question", whole: false, maxTokens, tokenCounts });
    count.mockRestore();
    const budget = promptBudget(512, maxTokens);
    const kept = messages.slice(1, -1);
    const dropped = earlier.length - kept.length;
    expect(messages[0]).toEqual({ role: "system", content: agent.system_prompt });
    expect(messages.at(-1)).toEqual({ role: "user", content: "new question" });
    expect(kept).toEqual(earlier.slice(dropped));
    // Whole blocks of 8 are dropped, the prompt fits, and one block more would not.
    expect(dropped % 8).toBe(0);
    expect(engine.countPromptTokens(messages)).toBeLessThanOrEqual(budget);
    expect(engine.countPromptTokens([messages[0] as ChatMessage, ...earlier.slice(dropped - 8), messages.at(-1) as ChatMessage])).toBeGreaterThan(budget);
    // The history was not tokenized again block by block (that is 70 counts of growing prompts): one count of the
    // system prompt and turn, and at most three of the prompt (the chosen block, one block more, one less).
    expect(counted.reduce((sum, size) => sum + size, 0)).toBeLessThanOrEqual(2 + 3 * (messages.length + 8));
  });

  it("counts messages a plugin changed, and aligns blocks to stored positions", () => {
    const engine = new EchoEngine({ contextSize: 256, parallel: 1, maxQueue: 1 });
    const earlier = history(40);
    const tokenCounts = new Map(earlier.map((message) => [tokenCountKey(message), messageTokens(engine, message)]));
    // A plugin rewrote one message: its stored count no longer applies.
    const rewritten = earlier.map((message, index) => (index === earlier.length - 1 ? { ...message, content: "word ".repeat(60) } : message));
    // The history starts at stored position 6 (older messages were deleted by the session cap): blocks start at positions 8, 16, …
    const messages = buildPrompt({ agent, engine, messages: rewritten, turn: "next", whole: false, maxTokens: 32, tokenCounts, firstPosition: 6 });
    const dropped = rewritten.length - (messages.length - 2);
    expect((6 + dropped) % 8).toBe(0);
    expect(engine.countPromptTokens(messages)).toBeLessThanOrEqual(promptBudget(256, 32));
    expect(engine.countPromptTokens([messages[0] as ChatMessage, ...rewritten.slice(dropped - 8), { role: "user", content: "next" }])).toBeGreaterThan(
      promptBudget(256, 32),
    );
    expect(messages.at(-2)?.content).toBe("word ".repeat(60));
  });

  it("drops every stored message when even the newest block does not fit", () => {
    const engine = new EchoEngine({ contextSize: 64, parallel: 1, maxQueue: 1 });
    const messages = buildPrompt({ agent, engine, messages: history(3), turn: "word ".repeat(20), whole: false, maxTokens: 32 });
    expect(messages).toEqual([{ role: "system", content: agent.system_prompt }, { role: "user", content: "word ".repeat(20) }]);
  });
});
