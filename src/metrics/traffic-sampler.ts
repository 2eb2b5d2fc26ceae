// Samples the node's own Prometheus metrics every few seconds into a ring: request rate, P99 latency, tokens/s, queue depth (the console's sparklines).
import type { Registry } from "prom-client";

/** One point of the series: what happened between the previous sample and `at`. */
export interface TrafficSample {
  /** ISO 8601 time of the sample. */
  at: string;
  /** Requests that ended (answered or failed: clawbot_requests_total) per second over the interval. */
  requests_per_s: number;
  /** P99 of clawbot_e2e_request_latency_seconds over the interval, from the bucket deltas as histogram_quantile computes it; null without answered requests. */
  p99_ms: number | null;
  /** Generated tokens (clawbot_generation_tokens_total) per second over the interval. */
  tokens_per_s: number;
  /** Requests waiting for a free sequence at the sample (clawbot_requests_waiting). */
  queue_depth: number;
}

export interface TrafficSamplerOptions {
  registry: Registry;
  /** Requests waiting now (the engine's load().queued). */
  queueDepth(): number;
  /** Milliseconds between samples (2000 by default, the console's refresh; tests use less). */
  intervalMs?: number;
  /** Samples kept (150 by default: 5 minutes at 2 s). */
  capacity?: number;
  /** Stops sampling once this says false (the node closed its store): the timer needs no close of its own. */
  running?(): boolean;
  clock?(): number;
}

export interface TrafficSampler {
  readonly intervalSeconds: number;
  /** The kept samples, oldest first. */
  samples(): TrafficSample[];
  /** Takes a sample now (the timer calls it; tests may too). */
  sample(): Promise<void>;
  close(): void;
}

/** The counters' and histogram's totals at one moment. */
interface Reading {
  at: number;
  requests: number;
  tokens: number;
  /** Cumulative count per bucket upper bound (le), summed over labels; +Inf included. */
  buckets: Map<number, number>;
}

export const defaultTrafficInterval = 2000;
export const defaultTrafficCapacity = 150;

export function createTrafficSampler(options: TrafficSamplerOptions): TrafficSampler {
  const intervalMs = options.intervalMs ?? defaultTrafficInterval;
  const capacity = options.capacity ?? defaultTrafficCapacity;
  const clock = options.clock ?? Date.now;
  const ring: TrafficSample[] = [];
  let previous: Reading | undefined;
  let closed = false;
  /** Samples run one after the other (a slow registry read never interleaves with the next). */
  let queue: Promise<void> = Promise.resolve();

  const take = async (): Promise<void> => {
    if (closed) return;
    try {
      const now = await read(options.registry, clock());
      if (previous) {
        const seconds = Math.max((now.at - previous.at) / 1000, 0.001);
        ring.push({
          at: new Date(now.at).toISOString(),
          requests_per_s: round(Math.max(0, now.requests - previous.requests) / seconds),
          p99_ms: quantileOfDelta(0.99, previous.buckets, now.buckets),
          tokens_per_s: round(Math.max(0, now.tokens - previous.tokens) / seconds),
          queue_depth: safeNumber(options.queueDepth),
        });
        if (ring.length > capacity) ring.splice(0, ring.length - capacity);
      }
      previous = now;
    } catch {
      // A failed read leaves a gap in the series; the next sample covers both intervals.
    }
  };
  const sample = (): Promise<void> => (queue = queue.then(take));
  const timer = setInterval(() => {
    if (options.running && !options.running()) return close();
    void sample();
  }, intervalMs);
  timer.unref();
  void sample();
  const close = () => {
    closed = true;
    clearInterval(timer);
  };
  return { intervalSeconds: intervalMs / 1000, samples: () => ring.slice(), sample, close };
}

async function read(registry: Registry, at: number): Promise<Reading> {
  const total = async (name: string): Promise<number> => {
    const metric = registry.getSingleMetric(name);
    if (!metric) return 0;
    return (await metric.get()).values.reduce((sum, value) => sum + value.value, 0);
  };
  const buckets = new Map<number, number>();
  const histogram = registry.getSingleMetric("clawbot_e2e_request_latency_seconds");
  if (histogram) {
    for (const value of (await histogram.get()).values) {
      const name = (value as { metricName?: string }).metricName;
      const le = value.labels.le;
      if (name !== "clawbot_e2e_request_latency_seconds_bucket" || le === undefined) continue;
      const bound = le === "+Inf" ? Number.POSITIVE_INFINITY : Number(le);
      buckets.set(bound, (buckets.get(bound) ?? 0) + value.value);
    }
  }
  return { at, requests: await total("clawbot_requests_total"), tokens: await total("clawbot_generation_tokens_total"), buckets };
}

/**
 * The q-quantile in milliseconds of the observations between two cumulative bucket readings, interpolated linearly
 * inside its bucket like Prometheus's histogram_quantile (the +Inf bucket answers the highest finite bound).
 */
export function quantileOfDelta(q: number, before: ReadonlyMap<number, number>, after: ReadonlyMap<number, number>): number | null {
  const bounds = [...after.keys()].sort((a, b) => a - b);
  const counts = bounds.map((bound) => Math.max(0, (after.get(bound) ?? 0) - (before.get(bound) ?? 0)));
  const total = counts.at(-1) ?? 0;
  if (total <= 0) return null;
  const rank = q * total;
  let index = counts.findIndex((count) => count >= rank);
  if (index < 0) index = counts.length - 1;
  const upper = bounds[index] as number;
  if (upper === Number.POSITIVE_INFINITY) return round((bounds[index - 1] ?? 0) * 1000);
  const lower = index === 0 ? 0 : (bounds[index - 1] as number);
  const below = index === 0 ? 0 : (counts[index - 1] as number);
  const inBucket = (counts[index] as number) - below;
  const seconds = inBucket > 0 ? lower + (upper - lower) * ((rank - below) / inBucket) : upper;
  return round(seconds * 1000);
}

function round(value: number): number {
  return Math.round(value * 1000) / 1000;
}

function safeNumber(read: () => number): number {
  try {
    const value = read();
    return Number.isFinite(value) ? value : 0;
  } catch {
    return 0;
  }
}
