// The node's metrics fed by hand: request outcomes and histograms, tokens, plugins, channels, MQTT and audit status, engine gauges.
import { describe, expect, it } from "vitest";
import { register as globalRegistry, type Registry } from "prom-client";
import type { AuditStatus } from "../audit/audit-record.js";
import { ClawError } from "../core/errors.js";
import { EchoEngine } from "../engine/echo/echo-engine.js";
import type { Gateway, GatewayStatus } from "../gateways/gateway.js";
import { silentLogger } from "../logging/logger.js";
import type { RequestEnd, RequestStart } from "../pipeline/request-observer.js";
import { latencyBuckets } from "./metrics-registry.js";
import { createNodeMetrics } from "./node-metrics.js";

const config = { enabled: false, port: 0, host: "127.0.0.1", path: "/metrics" };

function start(requestId: string, gateway = "websocket"): RequestStart {
  return {
    requestId,
    clientRequestId: "c1",
    gateway,
    principal: { subject: "alice", roles: [], scopes: [], claims: {} },
    session: "s1",
    model: "echo",
    agent: "default",
    params: { maxTokens: 16, temperature: 0 },
    receivedAt: Date.now(),
  };
}

function end(request: RequestStart, fields: Partial<RequestEnd>): RequestEnd {
  return {
    ...request,
    receivedInput: "hi",
    processedInput: "hi",
    generatedOutput: "",
    deliveredOutput: "",
    outcome: "stop",
    error: undefined,
    plugins: [],
    pluginMetadata: {},
    usage: { promptTokens: 0, completionTokens: 0 },
    timings: { queueMs: 0, ttftMs: 0, totalMs: 0 },
    ...fields,
  };
}

/** One sample's value (undefined when absent); histograms by their _count, _sum or _bucket sample name. */
async function sample(registry: Registry, name: string, labels: Record<string, string | number> = {}): Promise<number | undefined> {
  const metricName = name.replace(/_(count|sum|bucket)$/, "");
  const metric = registry.getSingleMetric(metricName) ?? registry.getSingleMetric(name);
  if (!metric) throw new Error(`no metric ${name}`);
  const { values } = await metric.get();
  const found = values.find(
    (value) =>
      ((value as { metricName?: string }).metricName ?? metricName) === name &&
      Object.entries(labels).every(([key, wanted]) => String((value.labels as Record<string, unknown>)[key]) === String(wanted)),
  );
  return found?.value;
}

function fakeGateway(status: () => GatewayStatus): Gateway {
  return { name: "fake", start: async () => {}, stop: async () => {}, status };
}

describe("latency buckets", () => {
  it("span 5 ms to 120 s with no bound over 1.5x the one below, so a P99 interpolates within a narrow bucket", () => {
    const from = latencyBuckets.indexOf(0.005);
    expect(from).toBeGreaterThanOrEqual(0);
    expect(latencyBuckets.at(-1)).toBe(120);
    for (let index = from + 1; index < latencyBuckets.length; index += 1) {
      expect((latencyBuckets[index] as number) / (latencyBuckets[index - 1] as number)).toBeLessThanOrEqual(1.5);
    }
  });
});

describe("createNodeMetrics", () => {
  it("counts requests by gateway and outcome and observes latency, TTFT, inter-token latency, queue, tokens and speed", async () => {
    const metrics = createNodeMetrics(config, { engine: new EchoEngine({ parallel: 2, maxQueue: 4 }), logger: silentLogger });
    const { observer, registry } = metrics;
    const answered = start("r1");
    observer.accepted?.(answered);
    observer.firstToken?.(answered, 250);
    observer.finished?.(
      end(answered, {
        usage: { promptTokens: 12, completionTokens: 5, cachedPromptTokens: 8 },
        // 4 tokens after the first in 400 ms: 100 ms each; 5 tokens in 500 ms after the queue: 10 tokens/s.
        timings: { queueMs: 100, ttftMs: 200, totalMs: 600 },
      }),
    );
    const refused = start("r2", "http");
    observer.accepted?.(refused);
    observer.failed?.(end(refused, { outcome: "overloaded", error: new ClawError("overloaded", "busy") }));
    const websocket = { gateway: "websocket", model: "echo" };
    expect(await sample(registry, "clawbot_requests_total", { ...websocket, outcome: "stop" })).toBe(1);
    expect(await sample(registry, "clawbot_requests_total", { gateway: "http", model: "echo", outcome: "overloaded" })).toBe(1);
    expect(await sample(registry, "clawbot_e2e_request_latency_seconds_count", websocket)).toBe(1);
    // Failed requests are counted, not timed: instant refusals would make the latency look better than it is.
    expect(await sample(registry, "clawbot_e2e_request_latency_seconds_count", { gateway: "http" })).toBeUndefined();
    expect(await sample(registry, "clawbot_time_to_first_token_seconds_sum", websocket)).toBeCloseTo(0.25);
    expect(await sample(registry, "clawbot_inter_token_latency_seconds_sum", websocket)).toBeCloseTo(0.1);
    expect(await sample(registry, "clawbot_request_queue_time_seconds_sum", websocket)).toBeCloseTo(0.1);
    expect(await sample(registry, "clawbot_request_generation_tokens_per_second_sum", websocket)).toBeCloseTo(10);
    expect(await sample(registry, "clawbot_time_to_first_token_seconds_bucket", { ...websocket, le: 0.2 })).toBe(0);
    expect(await sample(registry, "clawbot_time_to_first_token_seconds_bucket", { ...websocket, le: 0.3 })).toBe(1);
    expect(await sample(registry, "clawbot_prompt_tokens_total", websocket)).toBe(12);
    expect(await sample(registry, "clawbot_generation_tokens_total", websocket)).toBe(5);
    expect(await sample(registry, "clawbot_cached_prompt_tokens_total", websocket)).toBe(8);
    // One token: no inter-token latency for it.
    const short = start("r3");
    observer.accepted?.(short);
    observer.finished?.(end(short, { usage: { promptTokens: 3, completionTokens: 1 }, timings: { queueMs: 0, ttftMs: 5, totalMs: 6 } }));
    expect(await sample(registry, "clawbot_inter_token_latency_seconds_count", websocket)).toBe(1);
    expect(await sample(registry, "clawbot_e2e_request_latency_seconds_count", websocket)).toBe(2);
    await metrics.close();
  });

  it("keeps every metric in its own registry: two nodes in one process never share a counter, the global registry stays empty", async () => {
    const first = createNodeMetrics(config, { engine: new EchoEngine({ parallel: 1, maxQueue: 1 }), logger: silentLogger });
    const second = createNodeMetrics(config, { engine: new EchoEngine({ parallel: 1, maxQueue: 1 }), logger: silentLogger });
    await first.start({ gateways: [], audit: () => ({ records: 1, appendFailures: 0, sinks: [] }) });
    await second.start({ gateways: [], audit: () => ({ records: 2, appendFailures: 0, sinks: [] }) });
    first.gatewayEvents("websocket").connectionOpened();
    expect(await sample(first.registry, "clawbot_gateway_connections_opened_total", { gateway: "websocket" })).toBe(1);
    expect(await sample(second.registry, "clawbot_gateway_connections_opened_total", { gateway: "websocket" })).toBeUndefined();
    expect(globalRegistry.getMetricsAsArray()).toEqual([]);
  });

  it("never throws from the observer, even on a malformed end (finished runs inside the exchange's transaction)", () => {
    const metrics = createNodeMetrics(config, { engine: new EchoEngine({ parallel: 1, maxQueue: 1 }), logger: silentLogger });
    const broken = { ...start("r1"), usage: undefined, timings: undefined, pluginMetadata: undefined } as unknown as RequestEnd;
    expect(() => metrics.observer.finished?.(broken)).not.toThrow();
    expect(() => metrics.observer.failed?.(broken)).not.toThrow();
  });

  it("counts redactions by kind and direction, and plugin hook durations and failures", async () => {
    const metrics = createNodeMetrics(config, { engine: new EchoEngine({ parallel: 1, maxQueue: 1 }), logger: silentLogger });
    const request = start("r1");
    metrics.observer.accepted?.(request);
    const pluginMetadata = { redact: { input: { phone: 2, email: 1 }, output: { phone: 1, bogus: "x" } }, other: { input: { phone: 9 } } };
    metrics.observer.finished?.(end(request, { pluginMetadata }));
    metrics.pluginHook({ plugin: "redact", hook: "preProcess", seconds: 0.0002, failed: false });
    metrics.pluginHook({ plugin: "buggy", hook: "transformStream.push", seconds: 2, failed: true });
    const { registry } = metrics;
    expect(await sample(registry, "clawbot_redactions_total", { kind: "phone", direction: "input" })).toBe(2);
    expect(await sample(registry, "clawbot_redactions_total", { kind: "email", direction: "input" })).toBe(1);
    expect(await sample(registry, "clawbot_redactions_total", { kind: "phone", direction: "output" })).toBe(1);
    expect(await sample(registry, "clawbot_redactions_total", { kind: "bogus" })).toBeUndefined();
    expect(await sample(registry, "clawbot_plugin_hook_duration_seconds_count", { plugin: "redact", hook: "preProcess" })).toBe(1);
    expect(await sample(registry, "clawbot_plugin_hook_failures_total", { plugin: "buggy", hook: "transformStream.push" })).toBe(1);
    expect(await sample(registry, "clawbot_plugin_hook_failures_total", { plugin: "redact" })).toBeUndefined();
  });

  it("counts channel events per gateway and reads connected clients, health and MQTT counters from status() on each scrape", async () => {
    const metrics = createNodeMetrics(config, { engine: new EchoEngine({ parallel: 1, maxQueue: 1 }), logger: silentLogger });
    const events = metrics.gatewayEvents("websocket");
    events.connectionOpened();
    events.connectionOpened();
    events.connectionClosed(false);
    events.connectionClosed(true);
    events.authFailed("unauthorized", "expired");
    events.frameReceived();
    events.frameSent();
    events.frameSent();
    events.frameRefused("payload_too_large");
    let connections = 3;
    const mqtt = { type: "mqtt", name: "mqtt", state: "connected", healthy: true, connections: 1, connected: true, reconnects: 2, messagesIn: 10, messagesOut: 20, duplicatesDropped: 1 };
    await metrics.start({
      gateways: [
        fakeGateway(() => ({ type: "websocket", name: "ws", state: "listening", healthy: true, connections })),
        fakeGateway(() => ({ ...mqtt })),
        fakeGateway(() => {
          throw new Error("a broken status is skipped");
        }),
      ],
    });
    const { registry } = metrics;
    const websocket = { gateway: "websocket" };
    expect(await sample(registry, "clawbot_gateway_connections_opened_total", websocket)).toBe(2);
    expect(await sample(registry, "clawbot_gateway_connections_closed_total", websocket)).toBe(2);
    expect(await sample(registry, "clawbot_gateway_abnormal_disconnects_total", websocket)).toBe(1);
    expect(await sample(registry, "clawbot_gateway_auth_failures_total", { gateway: "websocket", code: "unauthorized" })).toBe(1);
    expect(await sample(registry, "clawbot_gateway_frames_received_total", websocket)).toBe(1);
    expect(await sample(registry, "clawbot_gateway_frames_sent_total", websocket)).toBe(2);
    expect(await sample(registry, "clawbot_gateway_frame_errors_total", { gateway: "websocket", code: "payload_too_large" })).toBe(1);
    // The status-derived metrics are set by one collect per scrape: scrape through the registry as Prometheus does.
    const scrape = async () => registry.metrics();
    let text = await scrape();
    expect(text).toContain('clawbot_gateway_connected_clients{gateway="websocket"} 3');
    expect(text).toContain('clawbot_gateway_up{gateway="mqtt"} 1');
    expect(text).toContain('clawbot_mqtt_connected{gateway="mqtt"} 1');
    expect(text).toContain('clawbot_mqtt_reconnects_total{gateway="mqtt"} 2');
    expect(text).toContain('clawbot_mqtt_messages_received_total{gateway="mqtt"} 10');
    connections = 1;
    Object.assign(mqtt, { connected: false, healthy: false, state: "reconnecting", reconnects: 5, messagesIn: 12 });
    text = await scrape();
    expect(text).toContain('clawbot_gateway_connected_clients{gateway="websocket"} 1');
    expect(text).toContain('clawbot_mqtt_connected{gateway="mqtt"} 0');
    expect(text).toContain('clawbot_gateway_up{gateway="mqtt"} 0');
    expect(text).toContain('clawbot_mqtt_reconnects_total{gateway="mqtt"} 5');
    expect(text).toContain('clawbot_mqtt_messages_received_total{gateway="mqtt"} 12');
    expect(text).toContain('clawbot_mqtt_duplicates_dropped_total{gateway="mqtt"} 1');
    await metrics.close();
  });

  it("reads the audit ledger's status: records, append failures, and each sink's backlog, state, shipped and failures", async () => {
    const metrics = createNodeMetrics(config, { engine: new EchoEngine({ parallel: 1, maxQueue: 1 }), logger: silentLogger });
    const sink = { name: "http https://user:secret@siem.example/ingest", type: "http" as const, cursor: 3, backlog: 7, up: false, shipped: 3, failures: 4, lastError: "refused" };
    const status: AuditStatus = { records: 10, appendFailures: 1, sinks: [sink] };
    await metrics.start({ gateways: [], audit: () => status });
    let text = await metrics.registry.metrics();
    expect(text).toContain("clawbot_audit_records 10");
    expect(text).toContain("clawbot_audit_append_failures_total 1");
    const labels = '{sink="http https://siem.example/ingest",type="http"}';
    expect(text).not.toContain("secret");
    expect(text).toContain(`clawbot_audit_sink_backlog_records${labels} 7`);
    expect(text).toContain(`clawbot_audit_sink_up${labels} 0`);
    expect(text).toContain(`clawbot_audit_sink_failures_total${labels} 4`);
    Object.assign(sink, { backlog: 0, up: true, shipped: 10 });
    status.records = 12;
    text = await metrics.registry.metrics();
    expect(text).toContain("clawbot_audit_records 12");
    expect(text).toContain(`clawbot_audit_sink_backlog_records${labels} 0`);
    expect(text).toContain(`clawbot_audit_sink_up${labels} 1`);
    expect(text).toContain(`clawbot_audit_sink_shipped_total${labels} 10`);
  });

  it("reads the engine on each scrape (running, waiting, KV usage), and exports host, process and model-load metrics", async () => {
    const engine = new EchoEngine({ parallel: 1, maxQueue: 2, contextSize: 100 });
    const metrics = createNodeMetrics(config, { engine, logger: silentLogger });
    metrics.modelLoaded(1.5);
    const long = engine.stream({ messages: [{ role: "user", content: "one two three four" }], params: { maxTokens: 50, temperature: 0 } });
    await long.next();
    const waiting = engine.stream({ messages: [{ role: "user", content: "x" }], params: { maxTokens: 5, temperature: 0 } });
    const queued = waiting.next();
    let text = await metrics.registry.metrics();
    expect(text).toContain("clawbot_requests_running 1");
    expect(text).toContain("clawbot_requests_waiting 1");
    const usage = Number(/^clawbot_kv_cache_usage_ratio (\S+)$/m.exec(text)?.[1]);
    expect(usage).toBeGreaterThan(0);
    expect(usage).toBeLessThanOrEqual(1);
    expect(text).toContain("clawbot_model_load_seconds 1.5");
    expect(text).toContain('clawbot_model_info{model="echo",engine="echo",backend="none",parallel="1"} 1');
    for (const name of ["process_cpu_seconds_total", "process_resident_memory_bytes", "nodejs_heap_size_used_bytes", "clawbot_host_cpu_utilization_ratio", "clawbot_host_memory_available_bytes", "clawbot_host_memory_total_bytes", "clawbot_host_load1"]) {
      expect(text, name).toMatch(new RegExp(`^${name} \\d`, "m"));
    }
    // The echo engine is on no GPU: no GPU memory series.
    expect(text).not.toMatch(/^clawbot_gpu_memory_used_bytes\{/m);
    await long.return(undefined as never);
    await queued;
    await waiting.return(undefined as never);
    text = await metrics.registry.metrics();
    expect(text).toContain("clawbot_requests_running 0");
    expect(text).toContain("clawbot_kv_cache_usage_ratio 0");
  });

  it("reads the GPU memory at each scrape when the engine reports it", async () => {
    let used = 1_000;
    const engine = Object.assign(new EchoEngine({ parallel: 1, maxQueue: 1 }), { vram: async () => ({ usedBytes: used, totalBytes: 8_000 }) });
    const metrics = createNodeMetrics(config, { engine, logger: silentLogger });
    let text = await metrics.registry.metrics();
    expect(text).toContain('clawbot_gpu_memory_used_bytes{backend="none"} 1000');
    expect(text).toContain('clawbot_gpu_memory_total_bytes{backend="none"} 8000');
    used = 3_000;
    text = await metrics.registry.metrics();
    expect(text).toContain('clawbot_gpu_memory_used_bytes{backend="none"} 3000');
  });
});
