// The llama engine directly: continuous batching lets a request join while others generate, on reused sequences.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { EnginePart, LanguageModel } from "../src/engine/language-model.js";
import { createLlamaEngine } from "../src/engine/llama/llama-engine.js";
import { silentLogger } from "../src/logging/logger.js";
import { testModelPath } from "./helpers/test-model.js";

const params = (maxTokens: number) => ({ maxTokens, temperature: 0 });
const user = (content: string) => [{ role: "user" as const, content }];

async function run(engine: LanguageModel, prompt: string, maxTokens: number, events: string[], name: string): Promise<string> {
  let text = "";
  for await (const part of engine.stream({ messages: user(prompt), params: params(maxTokens) }) as AsyncGenerator<EnginePart>) {
    if (part.type === "text-delta") {
      if (text === "") events.push(`${name}:first`);
      text += part.text;
    } else {
      events.push(`${name}:finish`);
    }
  }
  return text;
}

describe("llama engine", () => {
  let engine: LanguageModel;

  beforeAll(async () => {
    engine = await createLlamaEngine({ modelPath: await testModelPath(), parallel: 3, threads: 1, maxQueue: 8, gpu: false, logger: silentLogger, contextSize: 2048 });
  });
  afterAll(async () => engine?.close());

  it("starts a late request on a reused sequence while two others are still generating", async () => {
    // Use every sequence once, so the late request must reuse (and clear) a sequence with old tokens in it.
    const warmup: string[] = [];
    await Promise.all(["Once upon a time", "The little dog", "Lily and Tom"].map((prompt, index) => run(engine, prompt, 16, warmup, `w${index}`)));

    const events: string[] = [];
    const long = [run(engine, "Once upon a time", 1500, events, "long1"), run(engine, "One day, a big bird", 1500, events, "long2")];
    await new Promise((resolve) => setTimeout(resolve, 30));
    const late = run(engine, "The little dog", 8, events, "late");
    await Promise.all([...long, late]);
    // The late request answers before the long ones end: it did not wait for them.
    expect(events.indexOf("late:finish")).toBeLessThan(events.indexOf("long1:finish"));
    expect(events.indexOf("late:finish")).toBeLessThan(events.indexOf("long2:finish"));
  });

  it("gives the same greedy text on a fresh and on a reused sequence", async () => {
    const events: string[] = [];
    const first = await run(engine, "Tom had a red ball", 64, events, "a");
    await run(engine, "Something else entirely", 64, events, "b");
    const again = await run(engine, "Tom had a red ball", 64, events, "c");
    expect(again).toBe(first);
  });
});

describe("llama engine options", () => {
  it("runs with flash attention off and gives the same greedy text for a short prompt", async () => {
    const modelPath = await testModelPath();
    const base = { modelPath, parallel: 1, threads: 1, maxQueue: 1, gpu: false as const, logger: silentLogger };
    const withDefault = await createLlamaEngine(base);
    const withoutFlash = await createLlamaEngine({ ...base, flashAttention: false });
    try {
      const expected = await run(withDefault, "Once upon a time", 24, [], "default");
      expect(await run(withoutFlash, "Once upon a time", 24, [], "no-flash")).toBe(expected);
    } finally {
      await withDefault.close();
      await withoutFlash.close();
    }
  });
});
