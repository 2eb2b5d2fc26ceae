// The audit ledger end to end: a real node records requests, refused tokens, start and stop; `clawbot audit verify` catches tampering.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import Database from "better-sqlite3";
import OpenAI from "openai";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { sm3Hex } from "../src/audit/audit-canonical.js";
import type { StoredAuditRecord } from "../src/audit/audit-record.js";
import { databaseFileName } from "../src/store/database.js";
import { killAll, runCli } from "./helpers/cli-process.js";
import { startTestNode, type TestNode } from "./helpers/test-node.js";
import { WsTestClient } from "./helpers/ws-test-client.js";

const redact = { builtin: "redact", options: { names: ["张三"] } };
const sensitive = "张三 called 138 1234 5678 about the results";

afterEach(killAll);

function records(dataDir: string): StoredAuditRecord[] {
  const database = new Database(path.join(dataDir, databaseFileName), { readonly: true });
  try {
    return (database.prepare("SELECT sequence, recorded_at AS recordedAt, kind, body, hash FROM audit_records ORDER BY sequence").all() as (Omit<StoredAuditRecord, "body"> & { body: string })[]).map(
      (row) => ({ ...row, body: JSON.parse(row.body) as Record<string, unknown> }),
    );
  } finally {
    database.close();
  }
}

async function wsChat(node: TestNode, id: string, message: string, session?: string) {
  const client = await WsTestClient.connect(node.wsUrl, { token: await node.token("alice") });
  try {
    return (await client.chat(id, message, { max_tokens: 40 }, session)).end;
  } finally {
    client.close();
  }
}

async function verify(dataDir: string, ...extra: string[]) {
  return runCli(["audit", "verify", "--data-dir", dataDir, ...extra], { cwd: os.tmpdir(), timeoutMs: 60_000 });
}

describe("the audit ledger of a serving node (echo engine, redact plugin)", () => {
  let node: TestNode;
  let dataDir: string;
  let ledger: StoredAuditRecord[];

  beforeAll(async () => {
    node = await startTestNode({ agent: { engine: "echo" }, plugins: [redact] });
    dataDir = node.dataDir;
    const ok = await wsChat(node, "ws-1", sensitive, "consult-1");
    expect(ok.type).toBe("finish");
    const openai = new OpenAI({ baseURL: `${node.httpUrl}/v1`, apiKey: await node.token("bob"), maxRetries: 0 });
    await openai.chat.completions.create({ model: "echo", messages: [{ role: "user", content: "hello over http" }], max_tokens: 20 });
    const refused = await fetch(`${node.httpUrl}/v1/chat/completions`, {
      method: "POST",
      headers: { authorization: "Bearer not-a-jwt", "content-type": "application/json" },
      body: JSON.stringify({ model: "echo", messages: [{ role: "user", content: "hi" }] }),
    });
    expect(refused.status).toBe(401);
    // An audit record that cannot be written fails the request with storage_error, and its exchange is not stored either.
    node.daemon.database.exec("CREATE TRIGGER audit_refuses BEFORE INSERT ON audit_records BEGIN SELECT RAISE(ABORT, 'the disk is full'); END");
    const failed = await wsChat(node, "ws-2", "this must not be stored", "consult-2");
    expect(failed).toMatchObject({ type: "error", code: "storage_error" });
    node.daemon.database.exec("DROP TRIGGER audit_refuses");
    const turns = node.daemon.database.prepare("SELECT COUNT(*) AS n FROM session_turns WHERE session = ?").get("consult-2") as { n: number };
    expect(turns.n).toBe(0);
    expect(node.daemon.audit?.status().appendFailures).toBeGreaterThanOrEqual(1);
    // After the failure the chain goes on without a gap.
    expect((await wsChat(node, "ws-3", "after the failure", "consult-1")).type).toBe("finish");
    await node.close();
    ledger = records(dataDir);
  }, 120_000);

  afterAll(async () => {
    await node?.close();
  });

  it("numbers the records without gaps: start first, stop last", () => {
    expect(ledger.map((record) => record.sequence)).toEqual(ledger.map((_record, index) => index + 1));
    expect(ledger[0]).toMatchObject({ kind: "start", body: { node: expect.any(String), version: expect.any(String), config_sm3: expect.stringMatching(/^[0-9a-f]{64}$/) } });
    expect(ledger.at(-1)).toMatchObject({ kind: "stop", body: { reason: "shutdown" } });
    expect(ledger.map((record) => record.kind)).toEqual(["start", "request", "request", "auth_failure", "request", "stop"]);
  });

  it("records a WebSocket request with who, where, what (texts after the plugins), and how it went", () => {
    const request = ledger.find((record) => record.body.client_request_id === "ws-1");
    expect(request?.body).toMatchObject({
      gateway: "websocket",
      subject: "alice",
      roles: ["user"],
      session: "consult-1",
      request_id: expect.stringMatching(/^[0-9a-f-]{36}$/),
      model: "echo",
      content: "redacted",
      plugins: ["redact"],
      redactions: { input: { name: 1, phone: 1 } },
      outcome: "stop",
      error_code: null,
      params: { max_tokens: 40 },
    });
    const body = request!.body as { input: string; output: string; tokens: { prompt: number; completion: number }; latency_ms: { total: number } };
    expect(body.input).toContain("called");
    expect(body.input).not.toContain("张三");
    expect(body.input).not.toContain("1234");
    expect(body.output).not.toContain("张三");
    expect(body.tokens.completion).toBeGreaterThan(0);
    expect(body.latency_ms.total).toBeGreaterThan(0);
  });

  it("records an OpenAI HTTP request, a refused token and the request that failed to be recorded", () => {
    expect(ledger.find((record) => record.body.subject === "bob")?.body).toMatchObject({ gateway: "http", session: null, input: "hello over http", outcome: "stop" });
    expect(ledger.find((record) => record.kind === "auth_failure")?.body).toMatchObject({ gateway: "http", code: "unauthorized", reason: expect.any(String), remote: expect.stringMatching(/127\.0\.0\.1/) });
    // ws-2's own record was refused (the trigger); its failure (storage_error) could not be recorded either: no trace of it but the counter.
    expect(ledger.some((record) => record.body.client_request_id === "ws-2")).toBe(false);
    expect(ledger.find((record) => record.body.client_request_id === "ws-3")?.body).toMatchObject({ outcome: "stop", session: "consult-1" });
  });

  it("`clawbot audit verify` passes the untouched ledger (exit 0) with a summary", async () => {
    const result = await verify(dataDir);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toContain("intact");
    expect(result.stdout).toContain(`sequence ${ledger.length} hash ${ledger.at(-1)!.hash}`);
    const json = await verify(dataDir, "--json");
    expect(JSON.parse(json.stdout)).toMatchObject({ ok: true, records: ledger.length, head: { sequence: ledger.length, hash: ledger.at(-1)!.hash }, broken: null });
  });

  /** A copy of the stopped node's data directory, changed by `tamper` with the triggers dropped (as an attacker would). */
  async function tamperedCopy(tamper: (database: Database.Database) => void): Promise<string> {
    const copy = fs.mkdtempSync(path.join(os.tmpdir(), "clawbot-audit-tamper-"));
    fs.cpSync(dataDir, copy, { recursive: true });
    const database = new Database(path.join(copy, databaseFileName));
    for (const trigger of ["audit_records_no_delete", "audit_records_no_rewrite", "audit_records_no_gap"]) database.exec(`DROP TRIGGER IF EXISTS ${trigger}`);
    tamper(database);
    database.close();
    return copy;
  }

  async function expectBrokenAt(copy: string, sequence: number, problem: string): Promise<void> {
    const result = await verify(copy);
    expect(result.code, `${result.stdout}${result.stderr}`).toBe(1);
    expect(result.stdout).toContain(`BROKEN at sequence ${sequence} (${problem})`);
    fs.rmSync(copy, { recursive: true, force: true });
  }

  it("names a record whose text changed by one byte", async () => {
    const target = ledger.find((record) => record.body.client_request_id === "ws-1")!;
    const copy = await tamperedCopy((database) => {
      const { body } = database.prepare("SELECT body FROM audit_records WHERE sequence = ?").get(target.sequence) as { body: string };
      const changed = body.replace("called", "calleD");
      expect(changed).not.toBe(body);
      database.prepare("UPDATE audit_records SET body = ? WHERE sequence = ?").run(changed, target.sequence);
    });
    await expectBrokenAt(copy, target.sequence, "changed");
  });

  it("names a deleted record as missing, and a deleted last record as cut off", async () => {
    await expectBrokenAt(await tamperedCopy((database) => database.exec("DELETE FROM audit_records WHERE sequence = 3")), 3, "missing");
    await expectBrokenAt(await tamperedCopy((database) => database.exec(`DELETE FROM audit_records WHERE sequence = ${ledger.length}`)), ledger.length, "truncated");
  });

  it("names the first of two records whose bodies and hashes were swapped", async () => {
    const copy = await tamperedCopy((database) => {
      const read = database.prepare("SELECT recorded_at, kind, body, hash FROM audit_records WHERE sequence = ?");
      const write = database.prepare("UPDATE audit_records SET recorded_at = ?, kind = ?, body = ?, hash = ? WHERE sequence = ?");
      const [second, fourth] = [read.get(2) as Record<string, unknown>, read.get(4) as Record<string, unknown>];
      write.run(fourth.recorded_at, fourth.kind, fourth.body, fourth.hash, 2);
      write.run(second.recorded_at, second.kind, second.body, second.hash, 4);
    });
    await expectBrokenAt(copy, 2, "changed");
  });

  it("names a forged record inserted into the chain", async () => {
    const copy = await tamperedCopy((database) => {
      // Make room after record 2 and put a forged request there, chained as the forger guesses.
      database.exec("UPDATE audit_records SET sequence = -(sequence + 1) WHERE sequence >= 3; UPDATE audit_records SET sequence = -sequence WHERE sequence < 0");
      const body = JSON.stringify({ gateway: "websocket", subject: "mallory", input: "never asked", output: "never answered" });
      database.prepare("INSERT INTO audit_records (sequence, recorded_at, kind, body, hash) VALUES (3, ?, 'request', ?, ?)").run(Date.now(), body, sm3Hex(body));
    });
    await expectBrokenAt(copy, 3, "changed");
  });

  it("`clawbot audit export` writes the records of a time range as JSONL, each with the hash it chains from", async () => {
    const all = await runCli(["audit", "export", "--data-dir", dataDir, "--since", "1h"], { cwd: os.tmpdir(), timeoutMs: 60_000 });
    expect(all.code, all.stderr).toBe(0);
    const lines = all.stdout.trim().split("\n").map((line) => JSON.parse(line) as { sequence: number; hash: string; prev_hash: string; time: string; body: unknown });
    expect(lines.map((line) => line.sequence)).toEqual(ledger.map((record) => record.sequence));
    for (const [index, line] of lines.entries()) {
      expect(line.hash).toBe(ledger[index]!.hash);
      expect(line.prev_hash).toBe(index === 0 ? "0".repeat(64) : lines[index - 1]!.hash);
      expect(Date.parse(line.time)).toBe(ledger[index]!.recordedAt);
    }
    const future = await runCli(["audit", "export", "--data-dir", dataDir, "--since", new Date(Date.now() + 3_600_000).toISOString()], { cwd: os.tmpdir() });
    expect([future.code, future.stdout]).toEqual([0, ""]);
    const bad = await runCli(["audit", "export", "--data-dir", dataDir, "--since", "yesterday"], { cwd: os.tmpdir() });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain("is not a time");
    const missing = await runCli(["audit", "export", "--data-dir", dataDir], { cwd: os.tmpdir() });
    expect(missing.code).toBe(2);
    const nowhere = await verify(path.join(dataDir, "does-not-exist"));
    expect(nowhere.code).toBe(2);
    expect(nowhere.stderr).toContain("no database");
  });
});

describe("audit.content", () => {
  for (const content of ["full", "hash"] as const) {
    it(`${content}: the record keeps ${content === "full" ? "the text as received" : "only the SM3 digests of the texts"}`, async () => {
      const node = await startTestNode({ agent: { engine: "echo" }, plugins: [redact], audit: { content } });
      try {
        expect((await wsChat(node, "c-1", sensitive)).type).toBe("finish");
      } finally {
        await node.close();
      }
      const request = records(node.dataDir).find((record) => record.kind === "request")!;
      if (content === "full") expect(request.body).toMatchObject({ content, input: sensitive });
      else {
        expect(request.body).toMatchObject({ content, input: { sm3: expect.stringMatching(/^[0-9a-f]{64}$/) }, output: { sm3: expect.stringMatching(/^[0-9a-f]{64}$/) } });
        expect(JSON.stringify(request.body)).not.toMatch(/called|张三/);
      }
      expect((await verify(node.dataDir)).code).toBe(0);
    }, 60_000);
  }
});

describe("the audit ledger with the real model", () => {
  it("records the generated answer and its token counts, and verifies while the node is running", async () => {
    const node = await startTestNode();
    try {
      const end = await wsChat(node, "real-1", "Once upon a time");
      expect(end.type).toBe("finish");
      const request = records(node.dataDir).find((record) => record.kind === "request")!;
      expect(request.body).toMatchObject({ model: node.daemon.engine.info.model, output: end.text, outcome: expect.stringMatching(/stop|length/) });
      expect((request.body.tokens as { completion: number }).completion).toBeGreaterThan(0);
      // Read-only beside the running node (WAL).
      const result = await verify(node.dataDir);
      expect(result.code, result.stderr).toBe(0);
      expect(result.stdout).toContain("records: 2");
    } finally {
      await node.close();
    }
  }, 120_000);
});
