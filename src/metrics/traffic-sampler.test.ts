// Tests for the console's traffic series: rates from counter deltas, P99 from histogram bucket deltas as histogram_quantile computes it.
import { Counter, Gauge, Histogram, Registry } from "prom-client";
import { describe, expect, it } from "vitest";
import { latencyBuckets } from "./metrics-registry.js";
import { createTrafficSampler, quantileOfDelta } from "./traffic-sampler.js";

function nodeLikeRegistry() {
  const registry = new Registry();
  const registers = [registry];
  const requests = new Counter({ name: "clawbot_requests_total", help: "h", labelNames: ["gateway", "outcome"], registers });
  const tokens = new Counter({ name: "clawbot_generation_tokens_total", help: "h", labelNames: ["gateway"], registers });
  const latency = new Histogram({ name: "clawbot_e2e_request_latency_seconds", help: "h", labelNames: ["gateway"], buckets: [...latencyBuckets], registers });
  new Gauge({ name: "clawbot_requests_waiting", help: "h", registers });
  return { registry, requests, tokens, latency };
}

describe("quantileOfDelta", () => {
  it("interpolates inside the bucket holding the rank, over the observations between two readings only", () => {
    const before = new Map([[0.1, 50], [0.2, 50], [Number.POSITIVE_INFINITY, 50]]);
    const after = new Map([[0.1, 50], [0.2, 150], [Number.POSITIVE_INFINITY, 150]]);
    // 100 new observations, all in (0.1, 0.2]: rank 99 is 99/100 of the way through that bucket.
    expect(quantileOfDelta(0.99, before, after)).toBeCloseTo((0.1 + 0.1 * 0.99) * 1000, 6);
    expect(quantileOfDelta(0.5, before, after)).toBeCloseTo((0.1 + 0.1 * 0.5) * 1000, 6);
  });

  it("answers null without observations and the highest finite bound for the +Inf bucket", () => {
    const same = new Map([[1, 3], [Number.POSITIVE_INFINITY, 3]]);
    expect(quantileOfDelta(0.99, same, same)).toBeNull();
    expect(quantileOfDelta(0.99, new Map(), new Map([[1, 0], [Number.POSITIVE_INFINITY, 5]]))).toBe(1000);
  });
});

describe("createTrafficSampler", () => {
  it("turns counter and histogram deltas between samples into per-second rates and a P99 in the observed bucket", async () => {
    const { registry, requests, tokens, latency } = nodeLikeRegistry();
    let now = 1_000_000;
    let queued = 0;
    const sampler = createTrafficSampler({ registry, queueDepth: () => queued, intervalMs: 3_600_000, clock: () => now, capacity: 3 });
    try {
      // The sampler took its first reading when created: this sample covers an idle interval.
      await sampler.sample();
      expect(sampler.samples()).toEqual([{ at: new Date(now).toISOString(), requests_per_s: 0, p99_ms: null, tokens_per_s: 0, queue_depth: 0 }]);
      for (let index = 0; index < 20; index += 1) {
        requests.inc({ gateway: "http", outcome: index % 2 ? "stop" : "length" });
        tokens.inc({ gateway: "http" }, 5);
        latency.observe({ gateway: index % 2 ? "http" : "websocket" }, 0.012 + index / 10_000);
      }
      queued = 2;
      now += 4000;
      await sampler.sample();
      const first = sampler.samples().at(-1);
      expect(first).toMatchObject({ at: new Date(now).toISOString(), requests_per_s: 20 / 4, tokens_per_s: 100 / 4, queue_depth: 2 });
      // Every observation lies in 0.01 < x ≤ 0.015 s: so must the P99.
      expect(first!.p99_ms).toBeGreaterThan(10);
      expect(first!.p99_ms).toBeLessThanOrEqual(15);
      now += 2000;
      await sampler.sample();
      expect(sampler.samples().at(-1)).toMatchObject({ requests_per_s: 0, tokens_per_s: 0, p99_ms: null });
      for (let index = 0; index < 3; index += 1) {
        now += 1000;
        await sampler.sample();
      }
      expect(sampler.samples()).toHaveLength(3);
    } finally {
      sampler.close();
    }
  });

  it("samples on its own timer and stops once running() says false", async () => {
    const { registry, requests } = nodeLikeRegistry();
    let running = true;
    const sampler = createTrafficSampler({ registry, queueDepth: () => 0, intervalMs: 20, running: () => running });
    requests.inc({ gateway: "http", outcome: "stop" });
    await expect.poll(() => sampler.samples().length, { timeout: 5000 }).toBeGreaterThanOrEqual(2);
    running = false;
    await new Promise((resolve) => setTimeout(resolve, 100));
    const count = sampler.samples().length;
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(sampler.samples().length).toBe(count);
  });
});
