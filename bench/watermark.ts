// Watermark: detection rate on watermarked answers, false positives on plain ones, re-tokenization, and the throughput cost.
//
//   BENCH_SKIP_WATERMARK=1 npm run bench          # leave it out
//   node --import tsx bench/watermark.ts          # this part alone (the test model), prints its table
import { performance } from "node:perf_hooks";
import { pathToFileURL } from "node:url";
import { getLlama, type LlamaModel, type Token } from "node-llama-cpp";
import { createLlamaEngine } from "../src/engine/llama/llama-engine.js";
import type { LanguageModel } from "../src/engine/language-model.js";
import { modelVocabularySize, WatermarkBias } from "../src/engine/llama/watermark-bias.js";
import { scoreWatermark, watermarkZThreshold } from "../src/engine/llama/watermark-score.js";
import { silentLogger } from "../src/logging/logger.js";
import { type BenchOptions, readBenchOptions } from "./options.js";
import { resolveBenchModel } from "./realistic-model.js";
import { median } from "./stats.js";

export interface WatermarkBenchOptions {
  answers: number;
  maxTokens: number;
  temperature: number;
  gamma: number;
  delta: number;
  threads: number;
}

interface AnswerSet {
  /** z-score of each answer, re-tokenized from its text (what `clawbot watermark detect` computes). */
  z: number[];
  /** Completion tokens of each answer. */
  tokens: number[];
  /** Scored tokens (distinct pairs) of each answer. */
  scored: number[];
  /** Sum of completion tokens / sum of generation time, one stream. */
  tokensPerSecond: number;
  /** Process CPU time (all threads) per completion token: steadier than wall time on a shared machine. */
  cpuMsPerToken: number;
}

export interface WatermarkResult {
  options: WatermarkBenchOptions;
  vocabularySize: number;
  watermarked: AnswerSet;
  plain: AnswerSet;
  /** The same answers scored with every repeated pair counted (Kirchenbauer's original count). */
  plainZWithRepeats: number[];
  watermarkedZWithRepeats: number[];
  /** Watermarked answers scored with a wrong key. */
  wrongKeyZ: number[];
  retokenization: RetokenizationResult;
  biasCost: BiasCost[];
}

interface RetokenizationResult {
  answers: number;
  /** Answers whose text tokenizes back to exactly the generated tokens. */
  identical: number;
  /** Mean z on the generated tokens, and on the text's tokens. */
  meanZGenerated: number;
  meanZRetokenized: number;
}

interface BiasCost {
  vocabularySize: number;
  /** Building the green list and its TokenBias for a previous token not in the cache. */
  coldMs: number;
  /** What node-llama-cpp does with the bias at every sampled token: copy its entries into typed arrays. */
  perStepMs: number;
}

const key = "bench-watermark-key-0123456789abcdef";
const wrongKey = "bench-watermark-key-other-0123456789";

const subjects = ["a little girl", "a brave dog", "a tiny frog", "an old man", "a red bird", "a small boy", "a happy cat", "a big bear", "a kind queen", "a shy fish"];
const places = ["in the park", "by the sea", "in a big forest", "at school", "in the garden", "on a farm", "near a river", "in the sky", "at home", "in a small town"];

/** 100 (or `count`) different prompts: every subject in every place. */
export function watermarkPrompts(count: number): string[] {
  const prompts: string[] = [];
  for (let index = 0; prompts.length < count; index++) {
    const subject = subjects[index % subjects.length] as string;
    const place = places[Math.floor(index / subjects.length) % places.length] as string;
    const round = Math.floor(index / (subjects.length * places.length));
    prompts.push(`Tell me a story about ${subject} ${place}${round > 0 ? ` (${round + 1})` : ""}.`);
  }
  return prompts;
}

export async function runWatermark(options: WatermarkBenchOptions, modelPath: string, log: (line: string) => void): Promise<WatermarkResult> {
  const prompts = watermarkPrompts(options.answers);
  const engine = await createLlamaEngine({
    modelPath,
    parallel: 1,
    threads: options.threads,
    maxQueue: 4,
    gpu: false,
    contextSize: 1024,
    // Requests say whether they are watermarked.
    watermark: { key, gamma: options.gamma, delta: options.delta, enabled: false },
    logger: silentLogger,
  });
  const llama = await getLlama({ gpu: false, build: "never" });
  const model = await llama.loadModel({ modelPath });
  try {
    const bias = new WatermarkBias(model, { key, gamma: options.gamma, delta: options.delta });
    const wrong = new WatermarkBias(model, { key: wrongKey, gamma: options.gamma, delta: options.delta });
    const watermarkedTexts: string[] = [];
    const plainTexts: string[] = [];
    const watermarked = emptySet();
    const plain = emptySet();
    const time = { watermarked: 0, plain: 0 };
    const cpu = { watermarked: 0, plain: 0 };
    // Alternating, so drift on the machine touches both sides alike.
    for (const [index, prompt] of prompts.entries()) {
      for (const mark of [false, true]) {
        const answer = await generate(engine, prompt, { ...options, watermark: mark });
        (mark ? watermarkedTexts : plainTexts).push(answer.text);
        const set = mark ? watermarked : plain;
        set.tokens.push(answer.completionTokens);
        time[mark ? "watermarked" : "plain"] += answer.ms;
        cpu[mark ? "watermarked" : "plain"] += answer.cpuMs;
        const score = scoreWatermark(model.tokenize(answer.text), bias.lists);
        set.z.push(score.z);
        set.scored.push(score.scored);
      }
      if ((index + 1) % 20 === 0) log(`  ${index + 1}/${prompts.length} prompts`);
    }
    watermarked.tokensPerSecond = (sum(watermarked.tokens) / time.watermarked) * 1000;
    plain.tokensPerSecond = (sum(plain.tokens) / time.plain) * 1000;
    watermarked.cpuMsPerToken = cpu.watermarked / sum(watermarked.tokens);
    plain.cpuMsPerToken = cpu.plain / sum(plain.tokens);
    const withRepeats = (text: string) => scoreWatermark(model.tokenize(text), bias.lists, { repeats: true }).z;
    log("  re-tokenization:");
    const retokenization = await measureRetokenization(model, bias, prompts, options);
    return {
      options,
      vocabularySize: modelVocabularySize(model),
      watermarked,
      plain,
      plainZWithRepeats: plainTexts.map(withRepeats),
      watermarkedZWithRepeats: watermarkedTexts.map(withRepeats),
      wrongKeyZ: watermarkedTexts.map((text) => scoreWatermark(model.tokenize(text), wrong.lists).z),
      retokenization,
      biasCost: [512, 32_000, 151_936].map((size) => measureBiasCost(size, options)),
    };
  } finally {
    await model.dispose();
    await llama.dispose();
    await engine.close();
  }
}

function emptySet(): AnswerSet {
  return { z: [], tokens: [], scored: [], tokensPerSecond: 0, cpuMsPerToken: 0 };
}

async function generate(
  engine: LanguageModel,
  prompt: string,
  options: WatermarkBenchOptions & { watermark: boolean },
): Promise<{ text: string; completionTokens: number; ms: number; cpuMs: number }> {
  const params = { maxTokens: options.maxTokens, temperature: options.temperature, watermark: options.watermark };
  const cpuAtStart = process.cpuUsage();
  for await (const part of engine.stream({ messages: [{ role: "user", content: prompt }], params })) {
    if (part.type === "finish") {
      const cpu = process.cpuUsage(cpuAtStart);
      return { text: part.text, completionTokens: part.usage.completionTokens, ms: part.timings.totalMs, cpuMs: (cpu.user + cpu.system) / 1000 };
    }
  }
  throw new Error("the engine ended without a finish");
}

/**
 * Generates watermarked answers on a plain node-llama-cpp sequence (the same bias), keeping the sampled token ids,
 * and compares them with the ids the answer's text tokenizes to: detection only sees the latter.
 */
async function measureRetokenization(model: LlamaModel, bias: WatermarkBias, prompts: string[], options: WatermarkBenchOptions): Promise<RetokenizationResult> {
  const context = await model.createContext({ contextSize: 1024, threads: options.threads });
  const sequence = context.getSequence();
  let identical = 0;
  const zGenerated: number[] = [];
  const zRetokenized: number[] = [];
  try {
    for (const prompt of prompts) {
      await sequence.clearHistory();
      const promptTokens = model.tokenize(prompt, false);
      const withBos = model.tokens.bos !== null ? [model.tokens.bos, ...promptTokens] : promptTokens;
      let previous = withBos[withBos.length - 1] as Token;
      const generated: Token[] = [];
      const iterator = sequence.evaluate(withBos, { temperature: options.temperature, tokenBias: () => bias.after(previous) });
      for await (const token of iterator) {
        if (model.isEogToken(token)) break;
        generated.push(token);
        previous = token;
        if (generated.length >= options.maxTokens) break;
      }
      const text = model.detokenize(generated);
      const retokenized = model.tokenize(text);
      if (retokenized.length === generated.length && retokenized.every((token, index) => token === generated[index])) identical += 1;
      zGenerated.push(scoreWatermark(generated, bias.lists).z);
      zRetokenized.push(scoreWatermark(retokenized, bias.lists).z);
    }
  } finally {
    await context.dispose();
  }
  return { answers: prompts.length, identical, meanZGenerated: mean(zGenerated), meanZRetokenized: mean(zRetokenized) };
}

/** The bias for big vocabularies, without a model: a tokenizer stub (TokenBias only asks it which tokens end generation). */
function measureBiasCost(vocabularySize: number, options: WatermarkBenchOptions): BiasCost {
  const tokenizer = Object.assign(() => [], { isEogToken: () => false });
  const fakeModel = { fileInfo: { metadata: { tokenizer: { ggml: { tokens: { length: vocabularySize } } } } }, tokenizer } as unknown as LlamaModel;
  // Array.isArray needs a real array for the vocabulary size.
  (fakeModel.fileInfo.metadata as unknown as { tokenizer: { ggml: { tokens: unknown[] } } }).tokenizer.ggml.tokens = new Array(vocabularySize);
  const bias = new WatermarkBias(fakeModel, { key, gamma: options.gamma, delta: options.delta });
  // Medians of single timings: a busy machine adds spikes, not a steady offset.
  const rounds = 21;
  const cold: number[] = [];
  const built = [];
  for (let previous = 0; previous < rounds; previous++) {
    const start = performance.now();
    built.push(bias.after(previous as Token));
    cold.push(performance.now() - start);
  }
  const perStep: number[] = [];
  for (const item of [...built, ...built, ...built]) {
    const start = performance.now();
    // node-llama-cpp's getTokenBiasesForAddon, step by step.
    const keys: number[] = [];
    const values: number[] = [];
    for (const [token, value] of (item as unknown as { _biases: Map<number, number> })._biases) {
      keys.push(token);
      values.push(value);
    }
    Uint32Array.from(keys);
    Float32Array.from(values);
    perStep.push(performance.now() - start);
  }
  return { vocabularySize, coldMs: median(cold), perStepMs: median(perStep) };
}

function sum(values: number[]): number {
  return values.reduce((total, value) => total + value, 0);
}

function mean(values: number[]): number {
  return values.length === 0 ? Number.NaN : sum(values) / values.length;
}

function share(values: number[], predicate: (value: number) => boolean): string {
  const count = values.filter(predicate).length;
  return `${count}/${values.length} (${((100 * count) / Math.max(1, values.length)).toFixed(0)} %)`;
}

export function renderWatermark(result: WatermarkResult): string {
  const { options } = result;
  const detected = (z: number) => z >= watermarkZThreshold;
  const fixed = (value: number, digits = 1) => (Number.isFinite(value) ? value.toFixed(digits) : "–");
  const row = (label: string, values: number[]) =>
    `| ${label} | ${share(values, detected)} | ${fixed(Math.min(...values))} | ${fixed(median(values))} | ${fixed(Math.max(...values))} |`;
  const cost = (1 - result.watermarked.tokensPerSecond / result.plain.tokensPerSecond) * 100;
  const cpuCost = (result.watermarked.cpuMsPerToken / result.plain.cpuMsPerToken - 1) * 100;
  return [
    "### Watermark: detection with the test model",
    "",
    `${options.answers} prompts, one plain and one watermarked answer each (temperature ${options.temperature}, max_tokens ${options.maxTokens}, ` +
      `gamma ${options.gamma}, delta ${options.delta}, vocabulary ${result.vocabularySize}); each answer's text is tokenized again and scored ` +
      `as \`clawbot watermark detect\` does (distinct (previous, token) pairs; \`watermarked\` at z ≥ ${watermarkZThreshold}).`,
    `Answer length (completion tokens): watermarked median ${median(result.watermarked.tokens)}, min ${Math.min(...result.watermarked.tokens)}; ` +
      `plain median ${median(result.plain.tokens)}, min ${Math.min(...result.plain.tokens)}; scored pairs: watermarked median ${median(result.watermarked.scored)}, plain median ${median(result.plain.scored)}.`,
    "",
    "| Answers | read as watermarked | min z | median z | max z |",
    "|---|---|---|---|---|",
    row("watermarked (detection rate)", result.watermarked.z),
    row("plain (false positives)", result.plain.z),
    row("watermarked, scored with a wrong key", result.wrongKeyZ),
    row("watermarked, every repeated pair counted", result.watermarkedZWithRepeats),
    row("plain, every repeated pair counted", result.plainZWithRepeats),
    "",
    `Re-tokenization: ${result.retokenization.identical}/${result.retokenization.answers} watermarked answers tokenize back to exactly the sampled tokens; ` +
      `mean z ${fixed(result.retokenization.meanZGenerated, 2)} on the sampled tokens, ${fixed(result.retokenization.meanZRetokenized, 2)} on the text's tokens.`,
    "",
    "| One stream, alternating | tokens/s (wall) | CPU ms per token (all threads) |",
    "|---|---|---|",
    `| plain | ${fixed(result.plain.tokensPerSecond, 0)} | ${fixed(result.plain.cpuMsPerToken, 3)} |`,
    `| watermarked | ${fixed(result.watermarked.tokensPerSecond, 0)} (${cost >= 0 ? "−" : "+"}${fixed(Math.abs(cost))} %) | ${fixed(result.watermarked.cpuMsPerToken, 3)} (${cpuCost >= 0 ? "+" : "−"}${fixed(Math.abs(cpuCost))} %) |`,
    "",
    "| Vocabulary | new bias (green list + TokenBias), median ms | per sampled token (node-llama-cpp copies the bias), median ms |",
    "|---|---|---|",
    ...result.biasCost.map((item) => `| ${item.vocabularySize} | ${fixed(item.coldMs, 2)} | ${fixed(item.perStepMs, 3)} |`),
  ].join("\n");
}

/** The watermark part's settings from the bench's (BENCH_WATERMARK_*, BENCH_THREADS). */
export function watermarkOptions(options: BenchOptions): WatermarkBenchOptions {
  return {
    answers: options.watermarkAnswers,
    maxTokens: options.watermarkMaxTokens,
    temperature: options.watermarkTemperature,
    gamma: 0.25,
    delta: options.watermarkDelta,
    threads: options.threads,
  };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  const log = (line: string) => process.stderr.write(`${line}\n`);
  const modelPath = await resolveBenchModel(process.env.BENCH_MODEL, log);
  const result = await runWatermark(watermarkOptions(readBenchOptions(process.env, [])), modelPath, log);
  process.stdout.write(`${renderWatermark(result)}\n`);
}
