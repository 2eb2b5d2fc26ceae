// The llama engine directly: continuous batching lets a request join while others generate, on reused sequences.
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import type { LlamaContextSequence } from "node-llama-cpp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { EnginePart, LanguageModel } from "../src/engine/language-model.js";
import { createLlamaEngine } from "../src/engine/llama/llama-engine.js";
import { silentLogger } from "../src/logging/logger.js";
import { testModelPath } from "./helpers/test-model.js";
import { startTestNode } from "./helpers/test-node.js";
import { WsTestClient } from "./helpers/ws-test-client.js";

const repositoryRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");

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
  it("runs with flash attention forced on and off (the CPU default) and gives the same greedy text for a short prompt", async () => {
    const modelPath = await testModelPath();
    const base = { modelPath, parallel: 1, threads: 1, maxQueue: 1, gpu: false as const, logger: silentLogger };
    const withDefault = await createLlamaEngine(base);
    const withFlash = await createLlamaEngine({ ...base, flashAttention: true });
    try {
      const expected = await run(withDefault, "Once upon a time", 24, [], "default");
      expect(expected.length).toBeGreaterThan(10);
      expect(await run(withFlash, "Once upon a time", 24, [], "flash")).toBe(expected);
    } finally {
      await withDefault.close();
      await withFlash.close();
    }
  });
});

describe("llama engine failures", () => {
  it("closes the generation when a plugin fails mid-stream, so the sequence's evaluation ends and the next request is served", async () => {
    const plugin = { path: "./test/fixtures/plugins/misbehaving-plugin.ts", options: { hook: "transformStream.push", behaviour: "throw", trigger: "Once" } };
    const node = await startTestNode({ agent: { parallel: 1 }, plugins: [plugin], baseDir: repositoryRoot });
    try {
      // Watch the one sequence's evaluations: each is closed when its generation ends (its sampler is disposed then).
      const engine = (node.daemon.engine as unknown as { engine: { sequences: LlamaContextSequence[] } }).engine;
      const sequence = engine.sequences[0] as LlamaContextSequence;
      const evaluate = sequence.evaluate.bind(sequence);
      const evaluations: { closed: boolean }[] = [];
      sequence.evaluate = ((...args: Parameters<LlamaContextSequence["evaluate"]>) => {
        const evaluation = { closed: false };
        evaluations.push(evaluation);
        const inner = evaluate(...args);
        return (async function* () {
          try {
            return yield* inner;
          } finally {
            evaluation.closed = true;
          }
        })();
      }) as LlamaContextSequence["evaluate"];
      const client = await WsTestClient.connect(node.wsUrl, { token: await node.token() });
      const failed = await client.chat("fails", "Once upon a time", { max_tokens: 400 });
      expect(failed.end).toMatchObject({ type: "error", code: "plugin_error" });
      expect(evaluations).toHaveLength(1);
      expect(evaluations[0]?.closed).toBe(true);
      expect(node.daemon.engine.load()).toEqual({ active: 0, queued: 0 });
      const next = await client.chat("next", "The little dog", { max_tokens: 16 });
      expect(next.end).toMatchObject({ type: "finish" });
      expect(evaluations.every((evaluation) => evaluation.closed)).toBe(true);
      client.close();
    } finally {
      await node.close();
    }
  });

  it("never loads a saved state written by another llama.cpp build", async () => {
    const agent = { parallel: 1, persist_state: true };
    const first = await startTestNode({ agent });
    let client = await WsTestClient.connect(first.wsUrl, { token: await first.token() });
    await client.chat("s1", "Once upon a time", { max_tokens: 24 }, "kept");
    client.close();
    await first.close();
    // The saved record names the build that wrote it; pretend another node-llama-cpp / llama.cpp build did.
    const directory = path.join(first.dataDir, "sequence-states");
    const recordFile = fs.readdirSync(directory).find((name) => name.endsWith(".json")) as string;
    const record = JSON.parse(fs.readFileSync(path.join(directory, recordFile), "utf8")) as { fingerprint: string };
    const fingerprint = JSON.parse(record.fingerprint) as unknown[];
    expect(String(fingerprint.at(-1))).toMatch(/^node-llama-cpp \d+\.\d+\.\d+, llama\.cpp ggml-org\/llama\.cpp@\S+ \(prebuilt|localBuild/);
    for (const name of fs.readdirSync(directory)) expect([name, fs.statSync(path.join(directory, name)).mode & 0o777]).toEqual([name, 0o600]);
    expect(fs.statSync(directory).mode & 0o777).toBe(0o700);
    fs.writeFileSync(path.join(directory, recordFile), JSON.stringify({ ...record, fingerprint: JSON.stringify([...fingerprint.slice(0, -1), "node-llama-cpp 0.0.1, llama.cpp ggml-org/llama.cpp@b1 (prebuilt, cpu)"]) }));

    const resumed = async () => {
      const node = await startTestNode({ agent, dataDir: first.dataDir });
      client = await WsTestClient.connect(node.wsUrl, { token: await node.token() });
      const { end } = await client.chat("s2", "The little dog ran", { max_tokens: 8 }, "kept");
      client.close();
      await node.close();
      return (end.usage as { cached_prompt_tokens?: number }).cached_prompt_tokens ?? 0;
    };
    // Another build: the state is not loaded (the history is evaluated again) and is deleted.
    expect(await resumed()).toBe(0);
    // What the second node saved at its close names this build again.
    expect(JSON.parse(fs.readFileSync(path.join(directory, recordFile), "utf8")).fingerprint).toBe(record.fingerprint);
    // The same build (the state the second node saved at its close): loaded, so the history is not evaluated again.
    expect(await resumed()).toBeGreaterThan(0);
  });
});

describe("llama engine batching", () => {
  it("decodes every running stream's next token in one batch and gives each stream the text it gets alone", async () => {
    const engine = await createLlamaEngine({ modelPath: await testModelPath(), parallel: 4, threads: 1, maxQueue: 8, gpu: false, logger: silentLogger, contextSize: 1024 });
    try {
      const prompts = ["Once upon a time", "The little dog", "Lily and Tom went", "One day, a big bird"];
      const alone: string[] = [];
      for (const prompt of prompts) alone.push(await run(engine, prompt, 96, [], "alone"));
      const before = engine.decodeStats?.();
      const streams = prompts.map(async (prompt) => {
        let completionTokens = 0;
        let text = "";
        for await (const part of engine.stream({ messages: user(prompt), params: params(96) })) {
          if (part.type === "text-delta") text += part.text;
          else if (part.type === "finish") completionTokens = part.usage.completionTokens;
        }
        return { text, completionTokens };
      });
      const together = await Promise.all(streams);
      const after = engine.decodeStats?.();
      expect(together.map((stream) => stream.text)).toEqual(alone);
      // One decode per generated token of the longest stream, at most one more per prompt: no stream left out of a batch.
      const longest = Math.max(...together.map((stream) => stream.completionTokens));
      expect(longest).toBeGreaterThan(48);
      const decodes = (after?.decodes ?? 0) - (before?.decodes ?? 0);
      expect(decodes).toBeLessThanOrEqual(longest + prompts.length);
      expect((after?.tokens ?? 0) - (before?.tokens ?? 0)).toBeGreaterThanOrEqual(together.reduce((sum, stream) => sum + stream.completionTokens, 0));
    } finally {
      await engine.close();
    }
  });
});
