// A real Prometheus scrapes a real node: a P99 from its histograms through PromQL, and channel metrics that move when a client drops.
import { spawn, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import OpenAI from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePort } from "./helpers/free-port.js";
import { startTestNode, type TestNode } from "./helpers/test-node.js";
import { WsTestClient } from "./helpers/ws-test-client.js";

const prometheusBinary = ["/usr/bin/prometheus", "/usr/local/bin/prometheus"].find((file) => fs.existsSync(file));
// Without prometheus the tests are skipped on a developer machine, but fail in CI (which installs it).
const skip = !prometheusBinary && !process.env.CI;

interface Prometheus {
  url: string;
  process: ChildProcess;
  output: () => string;
  close(): Promise<void>;
}

/** Starts prometheus on a free loopback port, scraping `target` every second, with its data in a temp dir. */
async function startPrometheus(target: string, directory: string): Promise<Prometheus> {
  if (!prometheusBinary) throw new Error("the prometheus binary is not installed (Debian/Ubuntu: apt-get install prometheus)");
  const port = await freePort();
  const configFile = path.join(directory, "prometheus.yml");
  // The scrape config docs/metrics.md shows, with a 1 s interval so the test sees samples quickly.
  fs.writeFileSync(
    configFile,
    ["global:", "  scrape_interval: 1s", "scrape_configs:", "  - job_name: clawbot", "    metrics_path: /metrics", "    static_configs:", `      - targets: ["${target}"]`, ""].join("\n"),
  );
  const child = spawn(prometheusBinary, [`--config.file=${configFile}`, `--storage.tsdb.path=${path.join(directory, "data")}`, `--web.listen-address=127.0.0.1:${port}`], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  child.stdout?.on("data", (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on("data", (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const url = `http://127.0.0.1:${port}`;
  await until(async () => (await fetch(`${url}/-/ready`).catch(() => undefined))?.status === 200, `prometheus to be ready:\n${output}`, 30_000, () => child.exitCode !== null);
  return {
    url,
    process: child,
    output: () => output,
    async close() {
      if (child.exitCode === null) child.kill("SIGTERM");
      await exited;
    },
  };
}

async function until(check: () => Promise<boolean>, what: string, timeoutMs = 30_000, gaveUp: () => boolean = () => false): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (gaveUp() || Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

/** An instant query's first value, or undefined when the result is empty (or Prometheus answered an error). */
async function query(prometheus: Prometheus, promql: string): Promise<number | undefined> {
  const response = await fetch(`${prometheus.url}/api/v1/query?query=${encodeURIComponent(promql)}`);
  const body = (await response.json()) as { status: string; data?: { resultType: string; result: { value: [number, string] }[] } };
  if (body.status !== "success") throw new Error(`query ${promql} failed: ${JSON.stringify(body)}`);
  const value = body.data?.result[0]?.value[1];
  return value === undefined ? undefined : Number(value);
}

describe.skipIf(skip)("metrics scraped by a real Prometheus", () => {
  let node: TestNode;
  let prometheus: Prometheus;
  let directory: string;

  beforeAll(async () => {
    directory = fs.mkdtempSync(path.join(os.tmpdir(), "clawbot-prometheus-"));
    node = await startTestNode({ agent: { engine: "echo" } });
    const port = node.daemon.metrics.port;
    expect(port).toBeGreaterThan(0);
    prometheus = await startPrometheus(`127.0.0.1:${port}`, directory);
  });

  afterAll(async () => {
    await prometheus?.close();
    await node?.close();
    fs.rmSync(directory, { recursive: true, force: true });
  });

  it("scrapes the node (target up), and a histogram_quantile(0.99) over the e2e latency and TTFT histograms is a number", async () => {
    await until(async () => (await query(prometheus, 'up{job="clawbot"}')) === 1, `the clawbot target to be up:\n${prometheus.output()}`);
    const client = new OpenAI({ baseURL: `${node.httpUrl}/v1`, apiKey: await node.token() });
    const p99 = (histogram: string) => `histogram_quantile(0.99, sum by (le) (rate(${histogram}_bucket[1m])))`;
    let latency: number | undefined;
    let ttft: number | undefined;
    // Requests keep coming until two scrapes apart saw them: rate() then has an increase to work on.
    await until(async () => {
      const answer = await client.chat.completions.create({ model: "echo", messages: [{ role: "user", content: "one two three four five" }] });
      expect(answer.choices[0]?.message.content).toBe("one two three four five");
      latency = await query(prometheus, p99("clawbot_e2e_request_latency_seconds"));
      ttft = await query(prometheus, p99("clawbot_time_to_first_token_seconds"));
      return Number.isFinite(latency) && Number.isFinite(ttft);
    }, "a finite P99 from Prometheus");
    expect(latency).toBeGreaterThan(0);
    expect(latency).toBeLessThanOrEqual(120);
    expect(ttft).toBeGreaterThan(0);
    expect(await query(prometheus, 'sum(clawbot_requests_total{gateway="http",outcome="stop"})')).toBeGreaterThan(0);
    expect(await query(prometheus, 'sum(clawbot_generation_tokens_total{gateway="http"})')).toBeGreaterThan(0);
  });

  it("sees a WebSocket client connect, then its abrupt drop as an abnormal disconnect", async () => {
    const connected = 'clawbot_gateway_connected_clients{gateway="websocket"}';
    const abnormal = 'clawbot_gateway_abnormal_disconnects_total{gateway="websocket"}';
    await until(async () => (await query(prometheus, connected)) === 0, "no websocket client in Prometheus");
    const abnormalBefore = (await query(prometheus, abnormal)) ?? 0;
    const client = await WsTestClient.connect(node.wsUrl, { token: await node.token() });
    await until(async () => (await query(prometheus, connected)) === 1, "Prometheus to see the connected client");
    // No close frame: the TCP connection just goes away (a crashed client, a cut network).
    client.socket.terminate();
    await until(async () => (await query(prometheus, connected)) === 0, "Prometheus to see the client gone");
    await until(async () => ((await query(prometheus, abnormal)) ?? 0) > abnormalBefore, "Prometheus to count the abnormal disconnect");
    expect(await query(prometheus, 'clawbot_gateway_connections_opened_total{gateway="websocket"}')).toBeGreaterThanOrEqual(1);
  });

  it("accepts every query of the Grafana dashboard (its PromQL parses and evaluates)", async () => {
    const dashboard = JSON.parse(fs.readFileSync(new URL("../deploy/grafana/clawbot-dashboard.json", import.meta.url), "utf8")) as { panels: { targets?: { expr: string }[] }[] };
    const queries = dashboard.panels.flatMap((panel) => (panel.targets ?? []).map((target) => target.expr));
    expect(queries.length).toBeGreaterThan(20);
    for (const expr of queries) {
      // Grafana's variables, as Grafana fills them in.
      await query(prometheus, expr.replaceAll("$__rate_interval", "1m").replaceAll("$job", ".*"));
    }
    const p99 = queries.find((expr) => expr.startsWith("histogram_quantile(0.99") && expr.includes("clawbot_e2e_request_latency_seconds_bucket"));
    expect(Number.isFinite(await query(prometheus, (p99 as string).replaceAll("$__rate_interval", "1m").replaceAll("$job", ".*")))).toBe(true);
  });

  it("counts refused credentials by code", async () => {
    const refused = await fetch(`${node.httpUrl}/v1/chat/completions`, {
      method: "POST",
      headers: { authorization: "Bearer not-a-token", "content-type": "application/json" },
      body: JSON.stringify({ model: "echo", messages: [{ role: "user", content: "hi" }] }),
    });
    expect(refused.status).toBe(401);
    await until(async () => ((await query(prometheus, 'sum(clawbot_gateway_auth_failures_total{gateway="http",code="unauthorized"})')) ?? 0) >= 1, "the auth failure in Prometheus");
  });
});

describe("metrics of a real model", () => {
  let node: TestNode;

  beforeAll(async () => {
    node = await startTestNode();
  });

  afterAll(async () => {
    await node?.close();
  });

  it("after one request: decode batch sizes, KV cache usage, model load time, tokens, running back to 0", async () => {
    const client = new OpenAI({ baseURL: `${node.httpUrl}/v1`, apiKey: await node.token() });
    const answer = await client.chat.completions.create({ model: "stories260K", messages: [{ role: "user", content: "Once upon a time" }], max_tokens: 16 });
    expect(answer.usage?.completion_tokens).toBeGreaterThan(0);
    const response = await fetch(`http://127.0.0.1:${node.daemon.metrics.port}/metrics`);
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toMatch(/^text\/plain; version=0\.0\.4/);
    const text = await response.text();
    const value = (series: string) => Number(new RegExp(`^${series.replace(/[{}"|]/g, "\\$&")} (\\S+)$`, "m").exec(text)?.[1]);
    expect(value("clawbot_decode_batch_tokens_count")).toBeGreaterThan(0);
    expect(value("clawbot_decode_batch_sequences_count")).toBeGreaterThan(0);
    // The sequence keeps the evaluated conversation for reuse: its cells stay in use.
    expect(value("clawbot_kv_cache_usage_ratio")).toBeGreaterThan(0);
    expect(value("clawbot_kv_cache_usage_ratio")).toBeLessThanOrEqual(1);
    expect(value("clawbot_model_load_seconds")).toBeGreaterThan(0);
    expect(value("clawbot_requests_running")).toBe(0);
    const labels = `{gateway="http",model="${node.daemon.engine.info.model}"}`;
    expect(value(`clawbot_generation_tokens_total${labels}`)).toBe(answer.usage?.completion_tokens);
    expect(value(`clawbot_prompt_tokens_total${labels}`)).toBe(answer.usage?.prompt_tokens);
    expect(value(`clawbot_time_to_first_token_seconds_count${labels}`)).toBe(1);
    // The audit ledger (on by default) recorded the start and the request.
    expect(value("clawbot_audit_records")).toBeGreaterThanOrEqual(2);
  });
});
