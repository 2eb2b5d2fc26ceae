// Request metrics from the pipeline's observer seam: counts by outcome, latency histograms, tokens, generation speed.
import { Counter, Histogram, type Registry } from "prom-client";
import type { RequestEnd, RequestObserver, RequestStart } from "../pipeline/request-observer.js";
import { latencyBuckets, tokensPerSecondBuckets } from "./metrics-registry.js";

/** Seconds from milliseconds. */
const seconds = (milliseconds: number) => milliseconds / 1000;

/**
 * Builds the request metrics in `registry` and returns the observer that feeds them. Every callback swallows its own
 * errors: `finished` runs inside the exchange's transaction, and a metric must never turn an answer into a storage_error.
 */
export function requestMetrics(registry: Registry): RequestObserver {
  const registers = [registry];
  const labelNames = ["gateway", "model"] as const;
  const requests = new Counter({
    name: "clawbot_requests_total",
    help: "Requests the pipeline took, by how they ended: a finish reason (stop, length, cancelled) or an error code.",
    labelNames: ["gateway", "model", "outcome"] as const,
    registers,
  });
  const histogram = (name: string, help: string, buckets: readonly number[]) =>
    new Histogram({ name, help, labelNames, buckets: [...buckets], registers });
  const e2e = histogram("clawbot_e2e_request_latency_seconds", "From the pipeline taking a request to its finish (answered requests).", latencyBuckets);
  const ttft = histogram("clawbot_time_to_first_token_seconds", "From the pipeline taking a request to its first generated token (plugins, queue and prompt included).", latencyBuckets);
  const interToken = histogram(
    "clawbot_inter_token_latency_seconds",
    "Per answered request of two or more tokens: its mean time per output token after the first (OpenTelemetry GenAI time_per_output_token).",
    latencyBuckets,
  );
  const queue = histogram("clawbot_request_queue_time_seconds", "Time an answered request waited for a free sequence.", latencyBuckets);
  const speed = histogram(
    "clawbot_request_generation_tokens_per_second",
    "Per answered request: generated tokens over the time from getting a sequence to the last token (prompt evaluation included).",
    tokensPerSecondBuckets,
  );
  const counter = (name: string, help: string) => new Counter({ name, help, labelNames, registers });
  const promptTokens = counter("clawbot_prompt_tokens_total", "Prompt tokens of answered requests.");
  const generationTokens = counter("clawbot_generation_tokens_total", "Tokens generated for answered requests.");
  const cachedPromptTokens = counter("clawbot_cached_prompt_tokens_total", "Prompt tokens found already evaluated in a sequence's kept state (not evaluated again).");

  /** performance.now() when each request in flight was taken (finer than its epoch-millisecond receivedAt). */
  const startedAt = new Map<string, number>();
  const labelsOf = (request: RequestStart) => ({ gateway: request.gateway, model: request.model });
  const ended = (request: RequestEnd): number => {
    const taken = startedAt.get(request.requestId);
    startedAt.delete(request.requestId);
    return taken !== undefined ? seconds(performance.now() - taken) : seconds(Math.max(0, Date.now() - request.receivedAt));
  };
  const safely =
    <Values extends unknown[]>(run: (...values: Values) => void) =>
    (...values: Values): void => {
      try {
        run(...values);
      } catch {
        // A metric never fails a request (its finish is being recorded).
      }
    };

  return {
    accepted: safely((request: RequestStart) => void startedAt.set(request.requestId, performance.now())),
    firstToken: safely((request: RequestStart, ttftMs: number) => ttft.observe(labelsOf(request), seconds(ttftMs))),
    finished: safely((request: RequestEnd) => {
      const labels = labelsOf(request);
      const elapsed = ended(request);
      requests.inc({ ...labels, outcome: request.outcome });
      e2e.observe(labels, elapsed);
      const { usage, timings } = request;
      promptTokens.inc(labels, usage.promptTokens);
      generationTokens.inc(labels, usage.completionTokens);
      if (usage.cachedPromptTokens) cachedPromptTokens.inc(labels, usage.cachedPromptTokens);
      if (usage.completionTokens === 0) return;
      queue.observe(labels, seconds(timings.queueMs));
      const generating = timings.totalMs - timings.queueMs;
      if (generating > 0) speed.observe(labels, usage.completionTokens / seconds(generating));
      if (usage.completionTokens >= 2) interToken.observe(labels, seconds(Math.max(0, timings.totalMs - timings.ttftMs)) / (usage.completionTokens - 1));
    }),
    failed: safely((request: RequestEnd) => {
      ended(request);
      requests.inc({ ...labelsOf(request), outcome: request.outcome });
    }),
  };
}
