// Tests for the tool metrics: calls by tool and outcome, durations, and the bounded tool label.
import { Registry } from "prom-client";
import { describe, expect, it } from "vitest";
import type { RequestStart, ToolCallRecord } from "../pipeline/request-observer.js";
import { otherToolLabel, toolMetrics, unknownToolLabel } from "./tool-metrics.js";

const start: RequestStart = {
  requestId: "r",
  clientRequestId: "c",
  gateway: "websocket",
  principal: { subject: "alice", roles: [], scopes: [], claims: {} },
  session: undefined,
  model: "echo",
  agent: "default",
  params: { maxTokens: 16, temperature: 0 },
  receivedAt: 0,
};

const call = (tool: string, outcome: ToolCallRecord["outcome"] = "ok", known = true): ToolCallRecord => ({
  callId: "call_1",
  tool,
  source: known ? "builtin" : undefined,
  agent: "default",
  arguments: "{}",
  outcome,
  resultChars: 10,
  durationMs: 250,
});

async function values(registry: Registry, name: string): Promise<{ labels: Record<string, string | number>; value: number; metricName?: string }[]> {
  const metric = (await registry.getMetricsAsJSON()).find((entry) => entry.name === name);
  return (metric?.values ?? []) as { labels: Record<string, string | number>; value: number; metricName?: string }[];
}

describe("toolMetrics", () => {
  it("counts calls by tool and outcome and observes their duration in seconds", async () => {
    const registry = new Registry();
    const observer = toolMetrics(registry);
    observer.toolCalled?.(start, call("knowledge_search"));
    observer.toolCalled?.(start, call("knowledge_search"));
    observer.toolCalled?.(start, call("http_request", "timeout"));
    const calls = await values(registry, "clawbot_tool_calls_total");
    expect(calls).toEqual(
      expect.arrayContaining([
        { labels: { tool: "knowledge_search", outcome: "ok" }, value: 2 },
        { labels: { tool: "http_request", outcome: "timeout" }, value: 1 },
      ]),
    );
    const durations = await values(registry, "clawbot_tool_call_duration_seconds");
    expect(durations.find((entry) => entry.metricName === "clawbot_tool_call_duration_seconds_sum" && entry.labels.tool === "knowledge_search")?.value).toBeCloseTo(0.5);
  });

  it("labels calls of unknown tools (unknown), and tools past the cap (other)", async () => {
    const registry = new Registry();
    const observer = toolMetrics(registry, 3);
    for (const name of ["a", "b", "c", "d", "e", "a"]) observer.toolCalled?.(start, call(name));
    observer.toolCalled?.(start, call("hallucinated_tool_name", "error", false));
    const tools = (await values(registry, "clawbot_tool_calls_total")).map((entry) => [entry.labels.tool, entry.value]);
    expect(tools).toEqual(
      expect.arrayContaining([
        ["a", 2],
        ["b", 1],
        ["c", 1],
        [otherToolLabel, 2],
        [unknownToolLabel, 1],
      ]),
    );
    expect(tools).toHaveLength(5);
  });
});
