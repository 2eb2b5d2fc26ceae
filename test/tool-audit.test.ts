// Built-in tools in a node started from config (echo engine, WebSocket): each call is a tool_call audit record before its request's record, in a chain `audit verify` accepts, and a metric.
import fs from "node:fs";
import http from "node:http";
import type { AddressInfo } from "node:net";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { sm3Hex } from "../src/audit/audit-canonical.js";
import type { RawAuditRecord } from "../src/audit/audit-verify.js";
import { ingest } from "../src/knowledge/ingest.js";
import { KnowledgeDatabase } from "../src/knowledge/knowledge-database.js";
import { TextSegmenter } from "../src/knowledge/text-segmenter.js";
import { runCli } from "./helpers/cli-process.js";
import { startTestNode, type TestNode } from "./helpers/test-node.js";
import { WsTestClient, type Frame } from "./helpers/ws-test-client.js";

const zorblax = "Patient with zorblax syndrome was given 40 mg of quintaprine daily.";

/** A data directory whose knowledge base holds one collection, `cases`. */
async function knowledgeDataDir(): Promise<string> {
  const directory = fs.mkdtempSync(path.join(os.tmpdir(), "clawbot-tool-audit-"));
  const file = path.join(directory, "cases.jsonl");
  fs.writeFileSync(file, `${JSON.stringify({ id: "MR-0001", text: zorblax })}\n${JSON.stringify({ id: "MR-0002", text: "Routine checkup, no medication." })}\n`);
  const dataDir = path.join(directory, "data");
  fs.mkdirSync(dataDir, { mode: 0o700 });
  const database = KnowledgeDatabase.open(path.join(dataDir, "knowledge.db"), { segmenter: TextSegmenter.create() });
  try {
    await ingest(database, [file], { collection: "cases", chunk: { maxTokens: 256, overlapTokens: 32 } });
  } finally {
    database.close();
  }
  return dataDir;
}

function auditRecords(node: TestNode): (RawAuditRecord & { parsed: Record<string, unknown> })[] {
  const rows = node.daemon.database.prepare("SELECT sequence, recorded_at AS recordedAt, kind, body, hash FROM audit_records ORDER BY sequence").all() as RawAuditRecord[];
  return rows.map((row) => ({ ...row, parsed: JSON.parse(row.body) as Record<string, unknown> }));
}

const framesOf = (client: WsTestClient, id: string, type: string): Frame[] => client.frames.filter((frame) => frame.id === id && frame.type === type);

describe("tool calls of a node started from config: audit records and metrics", () => {
  let node: TestNode;
  let client: WsTestClient;
  let server: http.Server;
  let base: string;

  beforeAll(async () => {
    server = http.createServer((_request, response) => {
      response.writeHead(200, { "content-type": "text/plain" });
      response.end("ward 3: all beds free");
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    node = await startTestNode({
      agent: { engine: "echo", max_tokens: 2048 },
      dataDir: await knowledgeDataDir(),
      knowledge: { enabled: true },
      tools: { knowledge_search: { enabled: true }, http_request: { enabled: true, allow: [{ prefix: `${base}/status/`, methods: ["GET"] }] } },
    });
    client = await WsTestClient.connect(node.wsUrl, { token: await node.token("alice") });
  }, 60_000);

  afterAll(async () => {
    client?.close();
    await node?.close();
    server?.closeAllConnections();
    await new Promise((resolve) => server?.close(resolve));
  });

  it("knowledge_search runs when the model calls it; its tool_call record comes before the request's, with the same request_id", async () => {
    const { deltas, end } = await client.chat("kb-1", 'please use knowledge_search {"query": "zorblax quintaprine"}', { knowledge: false });
    expect(end.type).toBe("finish");
    const [callFrame] = framesOf(client, "kb-1", "tool-call");
    const [resultFrame] = framesOf(client, "kb-1", "tool-result");
    const toolCall = callFrame?.call as { id: string; name: string; arguments: string };
    expect(toolCall).toMatchObject({ name: "knowledge_search", arguments: '{"query":"zorblax quintaprine"}' });
    expect(resultFrame).toMatchObject({ name: "knowledge_search", outcome: "ok" });
    expect(String(resultFrame?.content)).toContain(`doc_id: MR-0001 | collection: cases`);
    // The echo engine's second step echoes its prompt: the tool's result went back to the model.
    expect(deltas.join("")).toContain(zorblax);

    const records = auditRecords(node);
    const request = records.find((record) => record.kind === "request" && record.parsed.client_request_id === "kb-1");
    const tool = records.find((record) => record.kind === "tool_call" && record.parsed.call_id === toolCall.id);
    expect(request).toBeDefined();
    expect(tool?.parsed).toMatchObject({
      gateway: "websocket",
      subject: "alice",
      roles: ["user"],
      request_id: request?.parsed.request_id,
      agent: "default",
      tool: "knowledge_search",
      source: "builtin",
      // audit.content redacted (the default): the arguments' digest only.
      content: "redacted",
      arguments: { sm3: sm3Hex(toolCall.arguments) },
      outcome: "ok",
      result_chars: String(resultFrame?.content).length,
    });
    expect((tool?.sequence ?? Infinity) < (request?.sequence ?? 0)).toBe(true);
  });

  it("http_request calls an allowed URL; a refused one is recorded with outcome error; the metrics count both", async () => {
    const ok = await client.chat("http-1", `use http_request {"url": "${base}/status/ward-3", "method": "GET"}`, { knowledge: false });
    expect(ok.end.type).toBe("finish");
    expect(framesOf(client, "http-1", "tool-result")[0]).toMatchObject({ outcome: "ok", content: expect.stringContaining("ward 3: all beds free") });
    const refused = await client.chat("http-2", `use http_request {"url": "${base}/statusx", "method": "GET"}`, { knowledge: false });
    expect(refused.end.type).toBe("finish");
    expect(framesOf(client, "http-2", "tool-result")[0]).toMatchObject({ outcome: "error", content: expect.stringContaining("not under an allowed URL prefix") });

    const outcomes = auditRecords(node)
      .filter((record) => record.kind === "tool_call" && record.parsed.tool === "http_request")
      .map((record) => record.parsed.outcome);
    expect(outcomes).toEqual(["ok", "error"]);

    const metrics = await (await fetch(`http://127.0.0.1:${node.daemon.metrics.port}/metrics`)).text();
    expect(metrics).toContain('clawbot_tool_calls_total{tool="knowledge_search",outcome="ok"} 1');
    expect(metrics).toContain('clawbot_tool_calls_total{tool="http_request",outcome="ok"} 1');
    expect(metrics).toContain('clawbot_tool_calls_total{tool="http_request",outcome="error"} 1');
    expect(metrics).toMatch(/clawbot_tool_call_duration_seconds_count\{tool="http_request"\} 2/);
  });

  it("clawbot audit verify accepts the chain with its tool_call records", async () => {
    const records = auditRecords(node);
    expect(records.filter((record) => record.kind === "tool_call")).toHaveLength(3);
    await node.close();
    const result = await runCli(["audit", "verify", "--data-dir", node.dataDir, "--json"], { cwd: os.tmpdir(), timeoutMs: 60_000 });
    expect(result.code, result.stderr).toBe(0);
    expect(JSON.parse(result.stdout)).toMatchObject({ ok: true, broken: null });
    expect(JSON.parse(result.stdout).records).toBeGreaterThanOrEqual(records.length);
  }, 90_000);
});
