// The node's own prom-client registry (never the global one) with the standard process_* and nodejs_* collectors, and the shared buckets.
import { collectDefaultMetrics, Registry } from "prom-client";

/**
 * Seconds buckets for request latencies (e2e, time to first token, inter-token, queue wait): from 1 ms to 120 s, each
 * bound at most 1.5× the one below from 5 ms up, so `histogram_quantile(0.99, …)` (which interpolates inside a bucket)
 * is off by less than half a bucket anywhere from 5 ms to 120 s.
 */
export const latencyBuckets: readonly number[] = [
  0.001, 0.0025, 0.005, 0.0075, 0.01, 0.015, 0.02, 0.03, 0.04, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1, 1.5, 2, 3, 4, 5,
  7.5, 10, 15, 20, 30, 45, 60, 90, 120,
];

/** Generated tokens per second of one request. */
export const tokensPerSecondBuckets: readonly number[] = [0.5, 1, 2, 3, 5, 7.5, 10, 15, 20, 30, 40, 50, 75, 100, 150, 200, 300, 500, 750, 1000, 2000, 5000];

/** Tokens in one decode batch (a prompt evaluation fills up to the batch size, 512 by default). */
export const batchTokenBuckets: readonly number[] = [1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64, 96, 128, 192, 256, 384, 512, 1024, 2048];

/** Sequences in one decode batch (at most `agent.parallel`). */
export const batchSequenceBuckets: readonly number[] = [1, 2, 3, 4, 5, 6, 8, 10, 12, 16, 24, 32, 48, 64];

/** A registry of its own, so several nodes in one process (tests) never share counters, with the default collectors. */
export function createMetricsRegistry(): Registry {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  return registry;
}
