// Erasing a data subject (PIPL) through POST /admin/erase and `clawbot erase`: data gone, other subjects kept, the audit chain verifies.
import { createHash } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { SignJWT } from "jose";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { killAll, removeTempDirs, runCli, sandboxEnv, tempDir } from "./helpers/cli-process.js";
import { startTestNode, testSecret, type TestNode } from "./helpers/test-node.js";
import { WsTestClient } from "./helpers/ws-test-client.js";

const sm3 = (text: string) => createHash("sm3").update(text, "utf8").digest("hex");

async function adminToken(): Promise<string> {
  return new SignJWT({ scope: "admin" }).setProtectedHeader({ alg: "HS256" }).setSubject("dpo-officer").setIssuedAt().setExpirationTime("1h").sign(new TextEncoder().encode(testSecret));
}

/** Talks as `subject` over WebSocket: one message per session, each holding `marker`. */
async function talk(node: TestNode, subject: string, marker: string, sessions: string[]): Promise<void> {
  const client = await WsTestClient.connect(node.wsUrl, { token: await node.token(subject) });
  for (const [index, session] of sessions.entries()) {
    const { end } = await client.chat(`${session}-${index}`, `my private note ${marker} number ${index}`, { max_tokens: 64 }, session);
    expect(end.type).toBe("finish");
  }
  client.close();
  await client.closed;
}

/** The database's bytes as they are on disk (with its WAL, if one is left). */
function databaseBytes(dataDir: string): Buffer {
  const files = ["clawbot.db", "clawbot.db-wal"].map((name) => path.join(dataDir, name)).filter((file) => fs.existsSync(file));
  return Buffer.concat(files.map((file) => fs.readFileSync(file)));
}

async function verify(dataDir: string) {
  const root = tempDir("clawbot-erasure-cli-");
  const result = await runCli(["audit", "verify", "--data-dir", dataDir, "--json"], { cwd: root, env: sandboxEnv(root) });
  return { code: result.code, report: JSON.parse(result.stdout || "{}") as Record<string, unknown>, stderr: result.stderr };
}

/** The node's audit records, bodies parsed. */
function records(node: TestNode): { kind: string; body: Record<string, unknown> }[] {
  const rows = node.daemon.database.prepare("SELECT kind, body FROM audit_records ORDER BY sequence").all() as { kind: string; body: string }[];
  return rows.map((row) => ({ kind: row.kind, body: JSON.parse(row.body) as Record<string, unknown> }));
}

describe("erasure of a data subject", () => {
  let node: TestNode | undefined;
  afterEach(async () => {
    await node?.close();
    node = undefined;
    await killAll();
  });
  afterAll(() => removeTempDirs());

  it("POST /admin/erase deletes the subject's sessions and audit texts, keeps other subjects, and the chain still verifies", async () => {
    node = await startTestNode({ agent: { engine: "echo" }, audit: { content: "full" } });
    const { dataDir } = node;
    const subject = "patient-7f3c@example.org";
    const marker = "ZEBRA-QUOKKA-4411";
    const kept = "KEEP-OTHER-9911";
    await talk(node, subject, marker, ["visit-a", "visit-b"]);
    await talk(node, "other-patient", kept, ["visit-c"]);
    const audited = records(node).filter((record) => record.kind === "request" && record.body.subject === subject);
    expect(audited).toHaveLength(2);
    expect(JSON.stringify(audited)).toContain(marker);

    const response = await fetch(`${node.httpUrl}/admin/erase`, {
      method: "POST",
      headers: { authorization: `Bearer ${await adminToken()}`, "content-type": "application/json" },
      body: JSON.stringify({ subject }),
    });
    expect(response.status).toBe(200);
    const answer = (await response.json()) as Record<string, unknown>;
    expect(answer).toMatchObject({ subject: { sm3: sm3(subject) }, counts: { sessions: 2, messages: 4, mqtt_requests: 0, sequence_states: 0, audit_records: 2 } });
    expect(answer.kinds).toEqual(["sessions", "messages", "audit_records"]);

    // Gone for the node; the other subject's history is intact.
    expect(node.daemon.sessions.history(subject, "visit-a")).toEqual([]);
    expect(node.daemon.sessions.history("other-patient", "visit-c").map((message) => message.content).join(" ")).toContain(kept);
    const after = records(node);
    const erased = after.filter((record) => record.kind === "request" && JSON.stringify(record.body.subject) === JSON.stringify({ sm3: sm3(subject) }));
    expect(erased).toHaveLength(2);
    for (const record of erased) {
      expect(record.body.input).toEqual({ sm3: sm3(`my private note ${marker} number ${erased.indexOf(record)}`) });
      expect(record.body.output).toMatchObject({ sm3: expect.stringMatching(/^[0-9a-f]{64}$/) });
      expect(record.body.session).toMatchObject({ sm3: expect.any(String) });
    }
    const tombstone = after.find((record) => record.kind === "erasure");
    expect(tombstone?.body).toMatchObject({ by: "dpo-officer", subject: { sm3: sm3(subject) }, kinds: ["sessions", "messages", "audit_records"], counts: { sessions: 2 } });

    await node.close();
    node = undefined;
    const verified = await verify(dataDir);
    expect(verified.code, verified.stderr).toBe(0);
    expect(verified.report).toMatchObject({ ok: true });
    expect(verified.report.erased_texts as number).toBeGreaterThanOrEqual(8);
    // Nowhere in the file any more (secure_delete zeroed the freed and rewritten cells); the other subject's text is.
    const bytes = databaseBytes(dataDir);
    expect(bytes.includes(subject)).toBe(false);
    expect(bytes.includes(marker)).toBe(false);
    expect(bytes.includes(kept)).toBe(true);
  });

  it("clawbot erase works on a stopped node, and refuses (naming POST /admin/erase) while it runs", async () => {
    node = await startTestNode({ agent: { engine: "echo" }, audit: { content: "full" } });
    const { dataDir } = node;
    const subject = "cli-subject-42";
    const marker = "PANGOLIN-SECRET-5150";
    await talk(node, subject, marker, ["s1", "s2", "s3"]);
    // A saved sequence state of one of its conversations, and of another subject's (agent.persist_state's files).
    const states = path.join(dataDir, "sequence-states");
    fs.mkdirSync(states, { recursive: true });
    for (const [stem, owner] of [["a".repeat(32), subject], ["b".repeat(32), "someone-else"]] as const) {
      fs.writeFileSync(path.join(states, `${stem}.json`), JSON.stringify({ conversation: JSON.stringify([owner, "s1"]), fingerprint: "x", bytes: 4, savedAt: 0 }));
      fs.writeFileSync(path.join(states, `${stem}.state`), "KV..");
    }
    const root = tempDir("clawbot-erasure-cli-");
    const refused = await runCli(["erase", "--subject", subject, "--data-dir", dataDir], { cwd: root, env: sandboxEnv(root) });
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain("POST /admin/erase");
    expect(node.daemon.sessions.history(subject, "s1")).toHaveLength(2);

    await node.close();
    node = undefined;
    const erased = await runCli(["erase", "--subject", subject, "--data-dir", dataDir, "--json"], { cwd: root, env: sandboxEnv(root) });
    expect(erased.code, erased.stderr).toBe(0);
    const result = JSON.parse(erased.stdout) as Record<string, unknown>;
    expect(result).toMatchObject({ subject: { sm3: sm3(subject) }, counts: { sessions: 3, messages: 6, sequence_states: 1, audit_records: 3 } });
    expect(fs.readdirSync(states).sort()).toEqual([`${"b".repeat(32)}.json`, `${"b".repeat(32)}.state`]);
    // The pid file the command held while erasing is gone.
    expect(fs.existsSync(path.join(dataDir, "clawbot.pid"))).toBe(false);

    const verified = await verify(dataDir);
    expect(verified.code, verified.stderr).toBe(0);
    expect((verified.report.head as { sequence: number }).sequence).toBe((result.tombstone as { sequence: number }).sequence);
    const bytes = databaseBytes(dataDir);
    expect(bytes.includes(subject)).toBe(false);
    expect(bytes.includes(marker)).toBe(false);

    // The node starts again on it and the tombstone is there, written by the command's user.
    node = await startTestNode({ agent: { engine: "echo" }, dataDir });
    const tombstone = records(node).find((record) => record.kind === "erasure");
    expect(tombstone?.body).toMatchObject({ by: expect.stringMatching(/^cli:/), subject: { sm3: sm3(subject) }, counts: { sessions: 3 } });
    expect(node.daemon.sessions.history(subject, "s2")).toEqual([]);
  });
});
