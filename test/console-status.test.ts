// GET /admin/status on real nodes: node, traffic series from the node's own metrics, gateways, audit chain (and a tampered one), knowledge base.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { SignJWT } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ingest } from "../src/knowledge/ingest.js";
import { KnowledgeDatabase } from "../src/knowledge/knowledge-database.js";
import { TextSegmenter } from "../src/knowledge/text-segmenter.js";
import { startTestNode, testSecret, type TestNode } from "./helpers/test-node.js";

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = any;

async function signed(subject: string, claims: Record<string, unknown>): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT(claims).setProtectedHeader({ alg: "HS256" }).setSubject(subject).setIssuedAt(now).setExpirationTime(now + 3600).sign(new TextEncoder().encode(testSecret));
}

/** A data directory whose knowledge base holds `wards` (3 jsonl records) and `guides` (2 Markdown files). */
async function knowledgeDataDir(): Promise<string> {
  const directory = fs.mkdtempSync(path.join(os.tmpdir(), "clawbot-console-status-"));
  const sources = path.join(directory, "sources");
  fs.mkdirSync(path.join(sources, "guides"), { recursive: true });
  const records = ["Ward 3 visiting hours are 14:00 to 20:00.", "Ward 5 is closed for cleaning on Mondays.", "Ward 7 takes children under twelve."];
  fs.writeFileSync(path.join(sources, "wards.jsonl"), records.map((text, index) => JSON.stringify({ id: `W-${index}`, text })).join("\n") + "\n");
  fs.writeFileSync(path.join(sources, "guides", "fever.md"), "# Fever\n\nRest and fluids.\n");
  fs.writeFileSync(path.join(sources, "guides", "cough.md"), "# Cough\n\nWarm drinks.\n");
  const dataDir = path.join(directory, "data");
  fs.mkdirSync(dataDir, { mode: 0o700 });
  const database = KnowledgeDatabase.open(path.join(dataDir, "knowledge.db"), { segmenter: TextSegmenter.create() });
  try {
    const chunk = { maxTokens: 256, overlapTokens: 32 };
    await ingest(database, [path.join(sources, "wards.jsonl")], { collection: "wards", chunk });
    await ingest(database, [path.join(sources, "guides")], { collection: "guides", chunk });
  } finally {
    database.close();
  }
  return dataDir;
}

async function getStatus(node: TestNode, token: string | null, query = ""): Promise<{ status: number; body: Json }> {
  const response = await fetch(`${node.httpUrl}/admin/status${query}`, { headers: token ? { authorization: `Bearer ${token}` } : {} });
  return { status: response.status, body: await response.json() };
}

async function chat(node: TestNode, token: string, message: string): Promise<void> {
  const model = node.daemon.engine.info.model;
  const response = await fetch(`${node.httpUrl}/v1/chat/completions`, {
    method: "POST",
    headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
    body: JSON.stringify({ model, messages: [{ role: "user", content: message }], max_tokens: 16 }),
  });
  expect(response.status).toBe(200);
  await response.json();
}

/** Polls the status until `done` holds for it (the traffic series is sampled every 2 s). */
async function statusUntil(node: TestNode, token: string, done: (body: Json) => boolean, timeoutMs = 20_000): Promise<Json> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const { status, body } = await getStatus(node, token);
    expect(status).toBe(200);
    if (done(body)) return body;
    if (Date.now() > deadline) throw new Error(`timed out; last status ${JSON.stringify(body).slice(0, 1500)}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

const busySample = (body: Json) => (body.traffic.samples as Json[]).find((sample) => sample.requests_per_s > 0 && sample.tokens_per_s > 0 && sample.p99_ms > 0);

describe("GET /admin/status (echo engine, knowledge base, audit ledger)", () => {
  let node: TestNode;
  let admin: string;

  beforeAll(async () => {
    node = await startTestNode({ agent: { engine: "echo" }, dataDir: await knowledgeDataDir(), knowledge: { enabled: true } });
    admin = await signed("ops-admin", { scope: "openid admin" });
  });

  afterAll(async () => {
    await node?.close();
  });

  it("needs a token (401) with the admin scope (403), and refuses query parameters (400)", async () => {
    expect(await getStatus(node, null)).toMatchObject({ status: 401, body: { error: { code: "unauthorized" } } });
    expect(await getStatus(node, await node.token("alice"))).toMatchObject({ status: 403, body: { error: { code: "forbidden" } } });
    expect(await getStatus(node, admin, "?verbose=1")).toMatchObject({ status: 400, body: { error: { code: "bad_request" } } });
  });

  it("shows the node, its gateways, knowledge collections with their ingested counts, and no policy", async () => {
    const { status, body } = await getStatus(node, admin);
    expect(status).toBe(200);
    expect(body.node).toMatchObject({ id: os.hostname(), engine: "echo", ready: true, parallel: expect.any(Number), queue_depth: 0 });
    expect(body.node.free_sequences).toBe(body.node.parallel - body.node.active_sequences);
    expect(body.cluster).toBeNull();
    expect(body.gateways.map((gateway: Json) => gateway.type).sort()).toEqual(["http", "websocket"]);
    for (const gateway of body.gateways) expect(gateway).toMatchObject({ state: "listening", healthy: true, frames_refused: expect.any(Number), abnormal_closes: 0 });
    // The channel counters come from the metrics: the 401/403/400 answers above were refused http requests.
    expect(body.gateways.find((gateway: Json) => gateway.type === "http").frames_refused).toBeGreaterThan(0);
    expect(body.gateways.find((gateway: Json) => gateway.type === "websocket").frames_refused).toBe(0);
    const collections = Object.fromEntries((body.knowledge.collections as Json[]).map((entry) => [entry.name, entry]));
    expect(collections.wards).toMatchObject({ documents: 3, chunks: 3 });
    expect(collections.guides).toMatchObject({ documents: 2, chunks: expect.any(Number) });
    expect(collections.guides.chunks).toBeGreaterThanOrEqual(2);
    expect(body.policy).toBeNull();
    expect(body.traffic.interval_s).toBe(2);
  });

  it("samples the request rate, P99 latency and tokens/s after traffic, and verifies the audit chain to its head", async () => {
    const user = await node.token("bob");
    for (let index = 0; index < 4; index += 1) await chat(node, user, `question number ${index} about wards`);
    const body = await statusUntil(node, admin, busySample);
    const sample = busySample(body);
    expect(Date.parse(sample.at)).not.toBeNaN();
    expect(sample.queue_depth).toBe(0);
    const head = node.daemon.database.prepare("SELECT sequence, hash FROM audit_records ORDER BY sequence DESC LIMIT 1").get() as { sequence: number; hash: string };
    const audit = (await statusUntil(node, admin, (each) => each.audit.verified_sequence >= head.sequence)).audit;
    expect(audit).toMatchObject({ enabled: true, verified_ok: true, broken_at: null });
    expect(audit.head_sequence).toBe(audit.verified_sequence);
    expect(audit.head_sequence).toBeGreaterThanOrEqual(head.sequence);
    expect(audit.head_hash).toMatch(/^[0-9a-f]{64}$/);
  });

  it("reports a record changed after it was verified: verified_ok false, broken_at its sequence", async () => {
    const verified = (await getStatus(node, admin)).body.audit.verified_sequence as number;
    const target = node.daemon.database.prepare("SELECT sequence, body FROM audit_records WHERE kind = 'request' AND sequence <= ? ORDER BY sequence LIMIT 1").get(verified) as { sequence: number; body: string };
    // A body can be rewritten in place (erasure does it); its hash then no longer matches.
    const changed = target.body.replace('"outcome":"', '"outcome":"x');
    expect(changed).not.toBe(target.body);
    node.daemon.database.prepare("UPDATE audit_records SET body = ? WHERE sequence = ?").run(changed, target.sequence);
    const audit = (await statusUntil(node, admin, (each) => each.audit.verified_ok === false)).audit;
    expect(audit).toMatchObject({ verified_ok: false, broken_at: target.sequence, problem: "changed" });
    expect(audit.verified_sequence).toBe(target.sequence - 1);
  });
});

describe("GET /admin/status with the real test model", () => {
  let node: TestNode;

  beforeAll(async () => {
    node = await startTestNode({ agent: { max_tokens: 24 } });
  });

  afterAll(async () => {
    await node?.close();
  });

  it("shows the model and tokens/s and P99 of real generations", async () => {
    const admin = await signed("ops-admin", { scopes: ["admin"] });
    await chat(node, await node.token("carol"), "Once upon a time");
    const body = await statusUntil(node, admin, busySample);
    expect(body.node).toMatchObject({ engine: "llama", ready: true });
    expect(body.node.model).not.toBe("llama");
    expect(busySample(body).tokens_per_s).toBeGreaterThan(0);
  });
});
