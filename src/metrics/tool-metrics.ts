// Tool metrics from the pipeline's observer seam: node-side tool calls by tool and outcome, and how long they took.
import { Counter, Histogram, type Registry } from "prom-client";
import type { RequestObserver } from "../pipeline/request-observer.js";
import { latencyBuckets } from "./metrics-registry.js";

/** Distinct tool labels at most; the calls of tools seen after them are counted under `(other)`. */
export const maxToolLabels = 200;

/** The label of calls that named no tool the node has (the model made the name up). */
export const unknownToolLabel = "(unknown)";

/** The label of calls of tools beyond `maxToolLabels`. */
export const otherToolLabel = "(other)";

/**
 * Builds the tool metrics in `registry` and returns the observer that feeds them. The `tool` label is bounded: only
 * names of tools the node has (a call of an unknown name is `(unknown)`), and at most `maxLabels` of them (`(other)`
 * after; neither can be a tool name). `toolCalled` never throws.
 */
export function toolMetrics(registry: Registry, maxLabels = maxToolLabels): RequestObserver {
  const registers = [registry];
  const calls = new Counter({
    name: "clawbot_tool_calls_total",
    help: "Node-side tool calls, by tool and outcome (ok, error, invalid_arguments, forbidden, denied, timeout).",
    labelNames: ["tool", "outcome"] as const,
    registers,
  });
  const duration = new Histogram({
    name: "clawbot_tool_call_duration_seconds",
    help: "Time one node-side tool call took, from its arguments' check to its result (approval wait included).",
    labelNames: ["tool"] as const,
    buckets: [...latencyBuckets],
    registers,
  });
  const labels = new Set<string>();
  const labelOf = (tool: string, known: boolean): string => {
    if (!known) return unknownToolLabel;
    if (labels.has(tool)) return tool;
    if (labels.size >= maxLabels) return otherToolLabel;
    labels.add(tool);
    return tool;
  };
  return {
    toolCalled: (_request, call) => {
      try {
        const tool = labelOf(call.tool, call.source !== undefined);
        calls.inc({ tool, outcome: call.outcome });
        duration.observe({ tool }, call.durationMs / 1000);
      } catch {
        // A metric never fails a request.
      }
    },
  };
}
