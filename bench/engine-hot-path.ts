// Drives the llama engine directly with 1 and N streams: main-thread time per token, tok/s, decodes (profile with --cpu-prof).
//
//   node --import tsx bench/engine-hot-path.ts                       # the test model
//   HOT_PATH_PROFILE=/tmp/prof node --import tsx bench/engine-hot-path.ts   # a .cpuprofile of each timed part only
//   BENCH_MODEL=realistic HOT_PATH_STREAMS=1,4,8 HOT_PATH_ROUNDS=5 HOT_PATH_MAX_TOKENS=256 node --import tsx bench/engine-hot-path.ts
//   HOT_PATH_FLASH_ATTENTION=on …                                      # force flash attention on (off, auto)
//   HOT_PATH_PROMPT_WORDS=600 …                                        # long prompts: a long context behind every token
import fs from "node:fs";
import { Session } from "node:inspector/promises";
import path from "node:path";
import { performance } from "node:perf_hooks";
import { createLlamaEngine } from "../src/engine/llama/llama-engine.js";
import type { LanguageModel } from "../src/engine/language-model.js";
import { silentLogger } from "../src/logging/logger.js";
import { resolveBenchModel } from "./realistic-model.js";
import { benchPrompts } from "./throughput.js";

const streamCounts = (process.env.HOT_PATH_STREAMS ?? "1,4").split(",").map(Number);
const rounds = Number(process.env.HOT_PATH_ROUNDS ?? 5);
const maxTokens = Number(process.env.HOT_PATH_MAX_TOKENS ?? 256);
const threads = Number(process.env.BENCH_THREADS ?? 1);
const profileDirectory = process.env.HOT_PATH_PROFILE;
/** HOT_PATH_PROMPT_WORDS: repeat each prompt to at least this many words (a long context behind every token). */
const promptWords = Number(process.env.HOT_PATH_PROMPT_WORDS ?? 0);

function longPrompt(prompt: string): string {
  const words = prompt.split(/\s+/);
  const repeated = [...words];
  while (repeated.length < promptWords) repeated.push(...words);
  return repeated.join(" ");
}

/** CPU time of the main thread (the event loop) in µs, from Linux's per-thread schedstat; NaN elsewhere. */
function mainThreadCpuMicroseconds(): number {
  try {
    return Number(fs.readFileSync(`/proc/self/task/${process.pid}/schedstat`, "utf8").split(" ")[0]) / 1000;
  } catch {
    return Number.NaN;
  }
}

async function runStream(engine: LanguageModel, prompt: string): Promise<number> {
  for await (const part of engine.stream({ messages: [{ role: "user", content: prompt }], params: { maxTokens, temperature: 0 } })) {
    if (part.type === "finish") return part.usage.completionTokens;
  }
  return 0;
}

async function main(): Promise<void> {
  const modelPath = await resolveBenchModel(process.env.BENCH_MODEL);
  const engine = await createLlamaEngine({
    modelPath,
    parallel: Math.max(...streamCounts),
    threads,
    maxQueue: 64,
    gpu: false,
    contextSize: Number(process.env.BENCH_CONTEXT_SIZE ?? 1024),
    // HOT_PATH_FLASH_ATTENTION=on|off|auto (default auto: the engine's default).
    flashAttention: ({ on: true, off: false } as Record<string, boolean>)[process.env.HOT_PATH_FLASH_ATTENTION ?? ""] ?? "auto",
    logger: silentLogger,
  });
  const session = profileDirectory ? new Session() : undefined;
  session?.connect();
  await session?.post("Profiler.enable");
  await session?.post("Profiler.setSamplingInterval", { interval: 100 });
  try {
    process.stdout.write(`model ${modelPath}, threads ${threads}, max_tokens ${maxTokens}, ${rounds} rounds after a warm-up\n`);
    process.stdout.write("streams | tok/s | main-thread CPU µs/token | event-loop busy µs/token | decodes/round | tokens/decode\n");
    for (const streams of streamCounts) {
      const prompts = Array.from({ length: streams }, (_unused, index) => longPrompt(benchPrompts[index % benchPrompts.length] as string));
      await Promise.all(prompts.map((prompt) => runStream(engine, prompt)));
      await session?.post("Profiler.start");
      const statsBefore = engine.decodeStats?.();
      const loopBefore = performance.eventLoopUtilization();
      const cpuBefore = mainThreadCpuMicroseconds();
      const startedAt = performance.now();
      let tokens = 0;
      for (let round = 0; round < rounds; round += 1) {
        const counts = await Promise.all(prompts.map((prompt) => runStream(engine, prompt)));
        tokens += counts.reduce((sum, count) => sum + count, 0);
      }
      const seconds = (performance.now() - startedAt) / 1000;
      const loop = performance.eventLoopUtilization(loopBefore);
      const cpu = mainThreadCpuMicroseconds() - cpuBefore;
      const statsAfter = engine.decodeStats?.();
      if (session && profileDirectory) {
        const { profile } = await session.post("Profiler.stop");
        fs.mkdirSync(profileDirectory, { recursive: true });
        fs.writeFileSync(path.join(profileDirectory, `hot-path-${streams}-streams.cpuprofile`), JSON.stringify(profile));
      }
      const decodes = statsAfter && statsBefore ? statsAfter.decodes - statsBefore.decodes : Number.NaN;
      const decodedTokens = statsAfter && statsBefore ? statsAfter.tokens - statsBefore.tokens : Number.NaN;
      process.stdout.write(
        `${streams} | ${(tokens / seconds).toFixed(0)} | ${(cpu / tokens).toFixed(1)} | ${((loop.active * 1000) / tokens).toFixed(1)} | ` +
          `${(decodes / rounds).toFixed(1)} | ${(decodedTokens / decodes).toFixed(2)}\n`,
      );
    }
  } finally {
    session?.disconnect();
    await engine.close();
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exitCode = 1;
});
