// Watermarking end to end: answers of the real model through the HTTP API, read by `clawbot watermark detect` (a child process).
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import fc from "fast-check";
import OpenAI from "openai";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { loadConfig } from "../src/config/load.js";
import { ClawError } from "../src/core/errors.js";
import { createLlamaEngine } from "../src/engine/llama/llama-engine.js";
import { silentLogger } from "../src/logging/logger.js";
import { WatermarkDetector } from "../src/engine/llama/watermark-detector.js";
import { killAll, spawnCli } from "./helpers/cli-process.js";
import { badUtf8Arbitrary } from "./hostile/hostile-inputs.js";
import { testModelPath } from "./helpers/test-model.js";
import { startTestNode, testSecret } from "./helpers/test-node.js";
import { issueToken } from "../src/security/jwt-issuer.js";

const key = "watermark-test-key-0123456789abcdef";
const otherKey = "another-watermark-key-9876543210";
const prompts = ["Tell me a story about a brave dog.", "Tell me a story about a tiny frog by the sea.", "Tell me a story about a kind queen."];
/** Fixed seeds: the same answers on every run (the detection rate over 100 random answers is in docs/benchmarks.md). */
const seeds = [11, 22, 33];

const directory = fs.mkdtempSync(path.join(os.tmpdir(), "clawbot-watermark-"));

afterAll(() => fs.rmSync(directory, { recursive: true, force: true }));

function writeConfig(name: string, text: string): string {
  const file = path.join(directory, name);
  fs.writeFileSync(file, text);
  return file;
}

/** 200-token answers at temperature 0.8 from a node with this watermark section. */
async function answers(watermark: Record<string, unknown>): Promise<string[]> {
  const node = await startTestNode({ watermark, agent: { temperature: 0.8 } });
  try {
    const openai = new OpenAI({ baseURL: `${node.httpUrl}/v1`, apiKey: await node.token(), maxRetries: 0 });
    const texts: string[] = [];
    for (const [index, prompt] of prompts.entries()) {
      const completion = await openai.chat.completions.create({
        model: "stories260K",
        messages: [{ role: "user", content: prompt }],
        max_tokens: 200,
        temperature: 0.8,
        seed: seeds[index],
      });
      texts.push(completion.choices[0]?.message.content ?? "");
    }
    return texts;
  } finally {
    await node.close();
  }
}

async function detect(configFile: string, text: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const cli = spawnCli(["watermark", "detect", "--config", configFile], { cwd: directory, stdin: text });
  const exit = await cli.exited;
  return { code: exit.code, stdout: cli.stdout(), stderr: cli.stderr() };
}

describe("watermarked answers", () => {
  let watermarked: string[];
  let plain: string[];
  let detector: WatermarkDetector;
  let configFile: string;

  beforeAll(async () => {
    const model = await testModelPath();
    configFile = writeConfig("clawbot.yaml", `agent:\n  model_path: ${JSON.stringify(model)}\nwatermark:\n  key: \${WATERMARK_TEST_KEY}\n`);
    process.env.WATERMARK_TEST_KEY = key;
    watermarked = await answers({ enabled: true, key });
    // Same key configured, not enabled: answers are not watermarked.
    plain = await answers({ enabled: false, key });
    detector = await WatermarkDetector.open(model);
  });
  afterAll(async () => {
    await detector?.close();
  });
  afterEach(() => killAll());

  it("are long enough to score, and differ from the plain answers to the same prompts and seeds", () => {
    for (const [index, text] of watermarked.entries()) {
      expect(detector.detect(text, { key, gamma: 0.25 }).scored).toBeGreaterThan(100);
      expect(text).not.toBe(plain[index]);
    }
  });

  it("read as watermarked with the node's key, plain answers do not", () => {
    for (const text of watermarked) expect(detector.detect(text, { key, gamma: 0.25 }).watermarked).toBe(true);
    for (const text of plain) {
      const result = detector.detect(text, { key, gamma: 0.25 });
      expect(result.watermarked).toBe(false);
      expect(result.z).toBeLessThan(4);
    }
  });

  it("read as not watermarked with another key", () => {
    for (const text of watermarked) expect(detector.detect(text, { key: otherKey, gamma: 0.25 }).watermarked).toBe(false);
  });

  it("`clawbot watermark detect` prints z, T and the verdict (key from ${ENV}), exit 0 either way", async () => {
    const marked = await detect(configFile, watermarked[0] as string);
    expect(marked.code, marked.stderr).toBe(0);
    const expected = detector.detect(watermarked[0] as string, { key, gamma: 0.25 });
    expect(marked.stdout).toContain(`z = ${expected.z.toFixed(2)}  T = ${expected.scored} `);
    expect(marked.stdout.trim().split("\n").at(-1)).toBe("watermarked");

    const notMarked = await detect(configFile, plain[0] as string);
    expect(notMarked.code, notMarked.stderr).toBe(0);
    expect(notMarked.stdout.trim().split("\n").at(-1)).toBe("not watermarked");
  });

  it("`clawbot watermark detect` with a wrong key says not watermarked; --json gives the numbers", async () => {
    const wrong = writeConfig("wrong-key.yaml", `agent:\n  model_path: ${JSON.stringify(await testModelPath())}\nwatermark:\n  key: ${otherKey}\n`);
    const result = await detect(wrong, watermarked[1] as string);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout.trim().split("\n").at(-1)).toBe("not watermarked");
    const cli = spawnCli(["watermark", "detect", "--config", configFile, "--json"], { cwd: directory, stdin: watermarked[1] as string });
    expect((await cli.exited).code).toBe(0);
    const json = JSON.parse(cli.stdout()) as { verdict: string; z: number; scored: number };
    expect(json.verdict).toBe("watermarked");
    expect(json.z).toBeGreaterThanOrEqual(4);
  });

  it("scores any text, hostile ones included (control and special-token text, lone surrogates, bad UTF-8), without throwing", () => {
    const hostileText = fc.oneof(
      fc.string({ unit: "grapheme", maxLength: 400 }),
      fc.string({ unit: "binary", maxLength: 400 }),
      fc.constantFrom("", " ", "<s></s><|im_start|>", "\u0000\uD800\uDFFF", "a".repeat(20_000)),
      badUtf8Arbitrary.map((bytes) => bytes.toString("utf8")),
    );
    fc.assert(
      fc.property(hostileText, (text) => {
        const result = detector.detect(text, { key, gamma: 0.25 });
        expect(Number.isFinite(result.z)).toBe(true);
        expect(result.scored).toBeLessThanOrEqual(Math.max(0, result.tokens - 1));
        expect(result.green).toBeLessThanOrEqual(result.scored);
      }),
      { numRuns: 200 },
    );
  });

  it("`clawbot watermark detect` reads empty input as not watermarked; exits 2 without a key, with an unknown option, or without a model", async () => {
    const empty = await detect(configFile, "");
    expect(empty.code, empty.stderr).toBe(0);
    expect(empty.stdout).toMatch(/T = 0 .*\nnot watermarked\n$/);
    const noKey = writeConfig("no-key.yaml", `agent:\n  model_path: ${JSON.stringify(await testModelPath())}\n`);
    const missing = await detect(noKey, "some text");
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/watermark\.key/);
    const unknown = spawnCli(["watermark", "detect", "--nonsense"], { cwd: directory });
    expect((await unknown.exited).code).toBe(2);
    const noModel = writeConfig("no-model.yaml", `agent:\n  model_path: ./absent.gguf\nwatermark:\n  key: ${key}\n`);
    const absent = await detect(noModel, "some text");
    expect(absent.code).toBe(2);
    expect(absent.stderr).toMatch(/absent\.gguf/);
  });
});

describe("watermark config", () => {
  it("refuses enabled without a key, and a key under 16 characters", () => {
    const file = (name: string, text: string) => writeConfig(name, text);
    expect(() => loadConfig({ configPath: file("enabled.yaml", "watermark:\n  enabled: true\n") })).toThrow(/watermark\.key/);
    expect(() => loadConfig({ configPath: file("short.yaml", "watermark:\n  key: short\n") })).toThrow(/16 characters/);
    const loaded = loadConfig({ configPath: file("ok.yaml", `watermark:\n  enabled: true\n  key: ${key}\n`) });
    expect(loaded.config.watermark).toEqual({ enabled: true, key, gamma: 0.25, delta: 2 });
  });
});

describe("the engine's watermark switch", () => {
  it("follows GenerationParams.watermark over watermark.enabled, and refuses a watermark it has no key for", async () => {
    const modelPath = await testModelPath();
    const base = { modelPath, parallel: 1, threads: 1, maxQueue: 2, gpu: false as const, contextSize: 512, logger: silentLogger };
    const keyed = await createLlamaEngine({ ...base, watermark: { key, gamma: 0.25, delta: 2, enabled: false } });
    const keyless = await createLlamaEngine(base);
    const detector = await WatermarkDetector.open(modelPath);
    try {
      const answer = async (engine: typeof keyed, watermark: boolean | undefined) => {
        const params = { maxTokens: 200, temperature: 0.8, seed: 5, ...(watermark === undefined ? {} : { watermark }) };
        for await (const part of engine.stream({ messages: [{ role: "user", content: "Tell me a story about a red bird." }], params })) {
          if (part.type === "finish") return part.text;
        }
        throw new Error("no finish");
      };
      // enabled: false, so unsaid means plain; asked for, it is watermarked.
      expect(detector.detect(await answer(keyed, undefined), { key, gamma: 0.25 }).watermarked).toBe(false);
      expect(detector.detect(await answer(keyed, true), { key, gamma: 0.25 }).watermarked).toBe(true);
      const refused = await answer(keyless, true).catch((error: unknown) => error);
      expect(refused).toBeInstanceOf(ClawError);
      expect((refused as ClawError).code).toBe("internal");
      expect((refused as ClawError).message).toMatch(/watermark\.key/);
      // Without a key and without asking: plain answers, as before.
      expect(typeof (await answer(keyless, undefined))).toBe("string");
    } finally {
      await detector.close();
      await keyed.close();
      await keyless.close();
    }
  });
});

describe("watermark per role (security policy)", () => {
  it("marks the answers of a role whose policy says watermark: true, and not those of a role that says false", async () => {
    const policyFile = writeConfig(
      "policy.yaml",
      "roles:\n  press: {gateways: [http], watermark: true}\n  staff: {gateways: [http], watermark: false}\n",
    );
    // watermark.enabled is off: only the policy turns it on, for the press role.
    const node = await startTestNode({ watermark: { enabled: false, key }, agent: { temperature: 0.8 }, security: { policy_file: policyFile } });
    const detector = await WatermarkDetector.open(await testModelPath());
    try {
      const answer = async (role: string, seed: number) => {
        const apiKey = await issueToken({ secret: testSecret, subject: `${role}-user`, roles: [role], ttl: "1h" });
        const openai = new OpenAI({ baseURL: `${node.httpUrl}/v1`, apiKey, maxRetries: 0 });
        const completion = await openai.chat.completions.create({
          model: "stories260K",
          messages: [{ role: "user", content: "Tell me a story about a brave dog." }],
          max_tokens: 200,
          temperature: 0.8,
          seed,
        });
        return completion.choices[0]?.message.content ?? "";
      };
      for (const seed of [11, 22]) {
        expect(detector.detect(await answer("press", seed), { key, gamma: 0.25 }).watermarked).toBe(true);
        expect(detector.detect(await answer("staff", seed), { key, gamma: 0.25 }).watermarked).toBe(false);
      }
    } finally {
      await detector.close();
      await node.close();
    }
  });
});
