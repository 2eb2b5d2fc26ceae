// Session affinity under load and history shifted out of the cache, on the llama engine with the real test model.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ChatMessage, FinishPart } from "../src/core/types.js";
import type { EnginePart, LanguageModel } from "../src/engine/language-model.js";
import { createLlamaEngine } from "../src/engine/llama/llama-engine.js";
import { silentLogger } from "../src/logging/logger.js";
import { testModelPath } from "./helpers/test-model.js";

const params = { maxTokens: 24, temperature: 0 };

/** A generation read up to its finish part and left there: it still holds its sequence until `finish()`. */
interface HeldGeneration {
  text: string;
  end: FinishPart;
  finish(): Promise<void>;
}

async function generateAndHold(engine: LanguageModel, messages: ChatMessage[], conversation: string): Promise<HeldGeneration> {
  const stream = engine.stream({ messages, params, conversation });
  let text = "";
  for (;;) {
    const step = await stream.next();
    if (step.done) throw new Error("the generation ended without a finish part");
    const part = step.value as EnginePart;
    if (part.type === "text-delta") text += part.text;
    else if (part.type === "finish") return { text, end: part, finish: async () => void (await stream.next()) };
  }
}

async function generate(engine: LanguageModel, messages: ChatMessage[], conversation: string): Promise<HeldGeneration> {
  const held = await generateAndHold(engine, messages, conversation);
  await held.finish();
  return held;
}

describe("session affinity under load", () => {
  let engine: LanguageModel;

  beforeAll(async () => {
    engine = await createLlamaEngine({ modelPath: await testModelPath(), parallel: 2, threads: 1, maxQueue: 8, gpu: false, logger: silentLogger, contextSize: 512 });
  });
  afterAll(async () => engine?.close());

  it("gives a freed sequence to the queued turn of the conversation it holds, and the head of the queue the next one", async () => {
    const alice: ChatMessage[] = [{ role: "user", content: "Tom had a red ball" }];
    alice.push({ role: "assistant", content: (await generate(engine, alice, "alice")).text });
    await generate(engine, [{ role: "user", content: "The big bird flew" }], "bob");
    // Both sequences busy: Alice's second turn on hers, Carol's on the other (which held Bob's).
    alice.push({ role: "user", content: "He threw it high" });
    const aliceSecond = await generateAndHold(engine, alice, "alice");
    const carol = await generateAndHold(engine, [{ role: "user", content: "Lily saw a cat" }], "carol");
    // Dan queues first, then Alice's third turn.
    const dan = generate(engine, [{ role: "user", content: "One day a frog" }], "dan");
    alice.push({ role: "assistant", content: aliceSecond.text }, { role: "user", content: "Then it rained" });
    const aliceThird = generate(engine, alice, "alice");
    await new Promise((resolve) => setImmediate(resolve));
    expect(engine.load()).toEqual({ active: 2, queued: 2 });

    // Alice's sequence is freed first: her third turn gets it (ahead of Dan) and reads only what is new; Dan gets Carol's.
    await aliceSecond.finish();
    await carol.finish();
    const [third, danTurn] = await Promise.all([aliceThird, dan]);
    expect(third.end.usage.cachedPromptTokens).toBeGreaterThanOrEqual(aliceSecond.end.usage.promptTokens - 4);
    expect(danTurn.end.usage.cachedPromptTokens).toBeLessThan(4);
  });
});

describe("session affinity with more conversations than sequences", () => {
  it("keeps a freed sequence for the conversation that sends its next turn at once, while another conversation waits", async () => {
    const engine = await createLlamaEngine({ modelPath: await testModelPath(), parallel: 1, threads: 1, maxQueue: 8, gpu: false, logger: silentLogger, contextSize: 512 });
    try {
      // Two conversations, each sending its next turn as soon as its answer ends: a closed loop on one sequence.
      const converse = async (conversation: string, turns: string[]) => {
        const messages: ChatMessage[] = [];
        const ends: FinishPart[] = [];
        for (const turn of turns) {
          messages.push({ role: "user", content: turn });
          const result = await generate(engine, messages, conversation);
          messages.push({ role: "assistant", content: result.text });
          ends.push(result.end);
        }
        return ends;
      };
      const [alice, bob] = await Promise.all([
        converse("alice", ["Tom had a red ball", "He threw it high", "Then it rained"]),
        converse("bob", ["The big bird flew", "It saw a cat", "They played all day"]),
      ]);
      // Every follow-up turn found its history in the sequence: the other conversation did not take it in between.
      for (const ends of [alice, bob]) {
        for (const [index, end] of ends.entries()) {
          if (index === 0) continue;
          expect(end.usage.cachedPromptTokens).toBeGreaterThanOrEqual((ends[index - 1] as FinishPart).usage.promptTokens);
        }
      }
    } finally {
      await engine.close();
    }
  });

  it("gives a stateless request the free sequence that holds most of its prompt, not the least recently used one", async () => {
    const engine = await createLlamaEngine({ modelPath: await testModelPath(), parallel: 3, threads: 1, maxQueue: 8, gpu: false, logger: silentLogger, contextSize: 512 });
    try {
      const stateless = async (content: string) => {
        const stream = engine.stream({ messages: [{ role: "user", content }], params });
        for await (const part of stream) if (part.type === "finish") return part;
        throw new Error("no finish part");
      };
      const first = "Once upon a time there was a little girl named Lily who loved to play in the park with her dog";
      const firstEnd = await stateless(first);
      await stateless("The big red bus drove down the hill and stopped at the school gate every morning");
      // A never-used sequence is the least recently used one; the sequence holding the first prompt is chosen instead.
      const again = await stateless(first);
      expect(again.usage.cachedPromptTokens).toBe(firstEnd.usage.promptTokens - 1);
    } finally {
      await engine.close();
    }
  });
});
