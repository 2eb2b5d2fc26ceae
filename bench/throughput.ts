// Engine throughput side by side: direct engine, WebSocket and HTTP SSE, at each concurrency, modes interleaved per repetition.
import fs from "node:fs";
import type { EngineInfo } from "../src/engine/language-model.js";
import { startBenchNode } from "./bench-node.js";
import type { BenchOptions } from "./options.js";
import { median, percentile } from "./stats.js";
import {
  engineDriver,
  httpSseDriver,
  websocketDriver,
  withTimeout,
  type ModeName,
  type StreamDriver,
  type StreamOutcome,
} from "./stream-drivers.js";

/** Distinct TinyStories-style openings; stream i of a round uses prompt i (mod the count), the same in every mode. */
export const benchPrompts = [
  "Once upon a time",
  "The little dog",
  "Lily and Tom went",
  "One day, a big bird",
  "Tim had a red ball",
  "The sun was shining",
  "Sue wanted to play",
  "There was a tiny cat",
];

export const modeLabels: Record<ModeName, string> = {
  engine: "(a) engine direct",
  websocket: "(b) WebSocket",
  "http-sse": "(c) HTTP SSE",
};

export interface ThroughputCell {
  mode: ModeName;
  concurrency: number;
  /** Aggregate completion tokens per second of each timed repetition. */
  tokensPerSecond: number[];
  /** Client-side time to first token of every stream of every timed repetition. */
  ttftMs: number[];
  /** Completion tokens per repetition (the same for every mode when generation is deterministic). */
  tokensPerRound: number[];
  /** Streams whose first token came after a quarter of their round: they did not join the running batch. */
  lateStarts: number;
  /** llama.cpp decode calls per timed round, and tokens in them (the engine's debug counter; empty without one). */
  decodesPerRound: number[];
  decodedTokensPerRound: number[];
  streams: number;
  medianTokensPerSecond: number;
  medianTtftMs: number;
  p90TtftMs: number;
}

export interface ThroughputResult {
  modelPath: string;
  modelBytes: number;
  engineInfo: EngineInfo;
  repetitions: number;
  maxTokens: number;
  cells: ThroughputCell[];
  /** Process RSS just before the daemon and model load (Node, tsx and whatever ran earlier). */
  rssBeforeLoadMb: number;
  rssAfterLoadMb: number;
  rssAfterBenchMb: number;
  maxRssMb: number;
  /** Streams whose text differed from the first text seen for the same prompt (greedy output should not vary). */
  textMismatches: string[];
  secondsTaken: number;
}

const modes: ModeName[] = ["engine", "websocket", "http-sse"];

/** A stream whose time to first token exceeds this fraction of its round's time counts as a late start. */
export const lateStartFraction = 0.25;

/** One round far slower than this means a lost reply, not a slow machine. */
const roundTimeoutMs = 120_000;

export async function runThroughput(options: BenchOptions, modelPath: string, log: (line: string) => void): Promise<ThroughputResult> {
  const benchStartedAt = performance.now();
  const rssBeforeLoadMb = megabytes(process.memoryUsage().rss);
  const node = await startBenchNode(
    { engine: "llama", temperature: 0, threads: options.threads, parallel: options.parallel, context_size: options.contextSize, max_queue: 64 },
    modelPath,
  );
  const rssAfterLoadMb = megabytes(process.memoryUsage().rss);
  const settings = { maxTokens: options.maxTokens, temperature: 0 };
  const maxConcurrency = Math.max(...options.concurrencies);
  const drivers: StreamDriver[] = [];
  const cells = new Map<string, ThroughputCell>();
  for (const concurrency of options.concurrencies) {
    for (const mode of modes) {
      cells.set(cellKey(mode, concurrency), {
        mode,
        concurrency,
        tokensPerSecond: [],
        ttftMs: [],
        tokensPerRound: [],
        lateStarts: 0,
        decodesPerRound: [],
        decodedTokensPerRound: [],
        streams: 0,
        medianTokensPerSecond: 0,
        medianTtftMs: 0,
        p90TtftMs: 0,
      });
    }
  }
  const referenceTexts = new Map<string, string>();
  const textMismatches: string[] = [];
  const checkTexts = (mode: ModeName, concurrency: number, outcomes: StreamOutcome[]) => {
    outcomes.forEach((outcome, index) => {
      const prompt = benchPrompts[index % benchPrompts.length] as string;
      const reference = referenceTexts.get(prompt);
      if (reference === undefined) referenceTexts.set(prompt, outcome.text);
      else if (reference !== outcome.text && textMismatches.length < 20) textMismatches.push(`${mode} ×${concurrency}: "${prompt}"`);
    });
  };
  try {
    drivers.push(
      engineDriver(node.daemon.engine, settings),
      await websocketDriver(node.wsUrl, node.token, maxConcurrency, settings),
      httpSseDriver(node.httpUrl, node.token, settings),
    );
    // Round 0 is an untimed warm-up (JIT, connections, KV cache allocation); modes rotate their order every round.
    for (let round = 0; round <= options.repetitions; round += 1) {
      const order = modes.map((_mode, index) => drivers[(index + round) % drivers.length] as StreamDriver);
      for (const concurrency of options.concurrencies) {
        for (const driver of order) {
          const statsBefore = node.daemon.engine.decodeStats?.();
          const { outcomes, seconds } = await runRound(driver, concurrency);
          const statsAfter = node.daemon.engine.decodeStats?.();
          checkTexts(driver.mode, concurrency, outcomes);
          if (round === 0) continue;
          const cell = cells.get(cellKey(driver.mode, concurrency)) as ThroughputCell;
          const tokens = outcomes.reduce((sum, outcome) => sum + outcome.completionTokens, 0);
          cell.tokensPerRound.push(tokens);
          cell.tokensPerSecond.push(tokens / seconds);
          cell.ttftMs.push(...outcomes.map((outcome) => outcome.ttftMs));
          cell.streams += outcomes.length;
          cell.lateStarts += outcomes.filter((outcome) => outcome.ttftMs > lateStartFraction * seconds * 1000).length;
          if (statsBefore && statsAfter) {
            cell.decodesPerRound.push(statsAfter.decodes - statsBefore.decodes);
            cell.decodedTokensPerRound.push(statsAfter.tokens - statsBefore.tokens);
          }
        }
      }
      log(round === 0 ? "  warm-up round done" : `  repetition ${round}/${options.repetitions} done`);
    }
    for (const cell of cells.values()) {
      cell.medianTokensPerSecond = median(cell.tokensPerSecond);
      cell.medianTtftMs = median(cell.ttftMs);
      cell.p90TtftMs = percentile(cell.ttftMs, 0.9);
    }
    const rssAfterBenchMb = megabytes(process.memoryUsage().rss);
    return {
      modelPath,
      modelBytes: fs.statSync(modelPath).size,
      engineInfo: node.daemon.engine.info,
      repetitions: options.repetitions,
      maxTokens: options.maxTokens,
      cells: [...cells.values()],
      rssBeforeLoadMb,
      rssAfterLoadMb,
      rssAfterBenchMb,
      maxRssMb: process.resourceUsage().maxRSS / 1024,
      textMismatches,
      secondsTaken: (performance.now() - benchStartedAt) / 1000,
    };
  } finally {
    for (const driver of drivers) await driver.close();
    await node.close();
  }
}

/** Starts `concurrency` streams at once and waits for all; the round's time runs from the first request to the last finish. */
async function runRound(driver: StreamDriver, concurrency: number): Promise<{ outcomes: StreamOutcome[]; seconds: number }> {
  const startedAt = performance.now();
  const outcomes = await withTimeout(
    Promise.all(Array.from({ length: concurrency }, (_unused, index) => driver.stream(benchPrompts[index % benchPrompts.length] as string, index))),
    roundTimeoutMs,
    `A ${driver.mode} round of ${concurrency} streams`,
  );
  return { outcomes, seconds: (performance.now() - startedAt) / 1000 };
}

export function findCell(cells: readonly ThroughputCell[], mode: ModeName, concurrency: number): ThroughputCell | undefined {
  return cells.find((cell) => cell.mode === mode && cell.concurrency === concurrency);
}

function cellKey(mode: ModeName, concurrency: number): string {
  return `${mode}/${concurrency}`;
}

function megabytes(bytes: number): number {
  return bytes / (1024 * 1024);
}
