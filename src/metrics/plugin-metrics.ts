// Plugin metrics: how long each hook call takes, which ones fail, and what the redactor masked, by kind.
import { Counter, Histogram, type Registry } from "prom-client";
import type { RequestEnd, RequestObserver } from "../pipeline/request-observer.js";
import type { HookTiming } from "../plugins/plugin-host.js";

/** Hook calls are usually far under a millisecond (a regex pass); a slow one approaches `plugin_timeout`. */
const hookBuckets = [0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

export interface PluginMetrics {
  /** The PluginHost's `onHook`. */
  hookTimed(timing: HookTiming): void;
  /** Counts each request's redactions (from `pluginMetadata.redact`), answered or not. */
  readonly observer: RequestObserver;
}

export function pluginMetrics(registry: Registry): PluginMetrics {
  const registers = [registry];
  const duration = new Histogram({
    name: "clawbot_plugin_hook_duration_seconds",
    help: "Time one plugin hook call took (each streamed delta's transformStream.push is one call).",
    labelNames: ["plugin", "hook"] as const,
    buckets: hookBuckets,
    registers,
  });
  const failures = new Counter({
    name: "clawbot_plugin_hook_failures_total",
    help: "Plugin hook calls that threw or timed out (each failed its request with plugin_error).",
    labelNames: ["plugin", "hook"] as const,
    registers,
  });
  const redactions = new Counter({
    name: "clawbot_redactions_total",
    help: "Matches the redact plugin masked, by detector kind and direction (input, output).",
    labelNames: ["kind", "direction"] as const,
    registers,
  });
  const countRedactions = (request: RequestEnd) => {
    try {
      for (const [direction, kinds] of Object.entries(redactionCounts(request.pluginMetadata))) {
        for (const [kind, count] of Object.entries(kinds)) redactions.inc({ kind, direction }, count);
      }
    } catch {
      // A metric never fails a request.
    }
  };
  return {
    hookTimed(timing) {
      duration.observe({ plugin: timing.plugin, hook: timing.hook }, timing.seconds);
      if (timing.failed) failures.inc({ plugin: timing.plugin, hook: timing.hook });
    },
    observer: { finished: countRedactions, failed: countRedactions },
  };
}

/** `metadata.redact` as the redact plugin leaves it ({input: {kind: n}, output: {kind: n}}); anything else is ignored. */
export function redactionCounts(metadata: Record<string, unknown>): Record<"input" | "output", Record<string, number>> {
  const result: Record<"input" | "output", Record<string, number>> = { input: {}, output: {} };
  const redact = metadata.redact;
  if (typeof redact !== "object" || redact === null) return result;
  for (const direction of ["input", "output"] as const) {
    const kinds = (redact as Record<string, unknown>)[direction];
    if (typeof kinds !== "object" || kinds === null) continue;
    for (const [kind, count] of Object.entries(kinds)) {
      if (typeof count === "number" && Number.isFinite(count) && count > 0) result[direction][kind] = count;
    }
  }
  return result;
}
