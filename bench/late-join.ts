// Late join: a request that arrives while other streams are generating, on a fresh sequence and on a previously used one.
import { startBenchNode } from "./bench-node.js";
import type { BenchOptions } from "./options.js";
import { median } from "./stats.js";
import { engineDriver, withTimeout } from "./stream-drivers.js";

export interface LateJoinResult {
  runningStreams: number;
  joinDelayMs: number;
  /** Time to first token of the late request when its sequence had never been used. */
  freshTtftMs: number;
  /** The same when its sequence held an earlier conversation (median over the rounds). */
  reusedTtftMs: number;
  /** The late request's usage.cachedPromptTokens per round: 0 on the never-used sequence, the shared start after. */
  lateCachedPromptTokens: (number | undefined)[];
  /** How long the running streams took (median): a stalled late request waits about this long. */
  runningTotalMs: number;
  rounds: number;
}

const lateMaxTokens = 8;
const roundTimeoutMs = 120_000;

/**
 * Engine only, no gateway: `runningStreams` streams start together, a short request follows `joinDelayMs` later.
 * Every stream slot carries its own conversation key, so the engine hands each back the sequence it used last: after a
 * warm-up of the running streams, the late request's first round runs on the never-used sequence, later rounds on the
 * one it used in the round before, which holds a different text (the prompts alternate), so its old tokens are erased
 * first: the erase that used to wait for the running streams to finish.
 */
export async function runLateJoin(options: BenchOptions, modelPath: string, rounds = 3): Promise<LateJoinResult> {
  const runningStreams = 2;
  const joinDelayMs = 20;
  const node = await startBenchNode(
    { engine: "llama", temperature: 0, threads: options.threads, parallel: runningStreams + 1, context_size: options.contextSize },
    modelPath,
  );
  try {
    const running = engineDriver(node.daemon.engine, { maxTokens: options.maxTokens, temperature: 0 }, { conversationPerSlot: true });
    const late = engineDriver(node.daemon.engine, { maxTokens: lateMaxTokens, temperature: 0 }, { conversationPerSlot: true });
    // Warm-up on the running streams' sequences only: the late request's sequence stays unused for round 0.
    await Promise.all(Array.from({ length: runningStreams }, (_unused, index) => running.stream("Once upon a time", index)));
    const lateTtfts: number[] = [];
    const lateCached: (number | undefined)[] = [];
    const runningTotals: number[] = [];
    for (let round = 0; round <= rounds; round += 1) {
      const others = Promise.all(
        Array.from({ length: runningStreams }, (_unused, index) => running.stream(index === 0 ? "Once upon a time" : "Tim had a red ball", index)),
      );
      await new Promise((resolve) => setTimeout(resolve, joinDelayMs));
      const joined = await withTimeout(late.stream(round % 2 === 0 ? "The little dog" : "The sun was shining", runningStreams), roundTimeoutMs, "The late request");
      const finished = await withTimeout(others, roundTimeoutMs, "The running streams");
      lateTtfts.push(joined.ttftMs);
      lateCached.push(joined.cachedPromptTokens);
      runningTotals.push(median(finished.map((outcome) => outcome.totalMs)));
    }
    return {
      runningStreams,
      joinDelayMs,
      freshTtftMs: lateTtfts[0] as number,
      reusedTtftMs: median(lateTtfts.slice(1)),
      lateCachedPromptTokens: lateCached,
      runningTotalMs: median(runningTotals),
      rounds,
    };
  } finally {
    await node.close();
  }
}
