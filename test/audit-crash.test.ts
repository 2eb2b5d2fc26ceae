// kill -9 a serving node in the middle of 20 streamed answers: the ledger verifies, nothing is half-written, and after a restart the file sink holds every committed record.
import { randomBytes } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import Database from "better-sqlite3";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import YAML from "yaml";
import { issueToken } from "../src/security/jwt-issuer.js";
import { databaseFileName } from "../src/store/database.js";
import { freePort, killAll, removeTempDirs, runCli, sandboxEnv, spawnCli, tempDir, waitUntilReady, type CliProcess } from "./helpers/cli-process.js";
import { testModelPath } from "./helpers/test-model.js";

afterEach(killAll);
afterAll(removeTempDirs);

interface Stream {
  /** Bytes of the SSE stream received so far. */
  received: number;
  /** The stream ended with [DONE]: its record was committed before the finish was written. */
  done: boolean;
}

/** One streamed chat completion; resolves when the stream ends or breaks (the node was killed). */
async function stream(httpUrl: string, token: string, maxTokens: number, state: Stream): Promise<void> {
  try {
    const response = await fetch(`${httpUrl}/v1/chat/completions`, {
      method: "POST",
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
      body: JSON.stringify({ model: "stories260K", messages: [{ role: "user", content: "Once upon a time" }], max_tokens: maxTokens, temperature: 0.8, stream: true }),
    });
    const reader = (response.body as ReadableStream<Uint8Array>).getReader();
    let text = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      state.received += value.length;
      text += new TextDecoder().decode(value);
    }
    state.done = text.includes("data: [DONE]");
  } catch {
    // The node was killed mid-stream.
  }
}

function ledgerHead(dataDir: string): number {
  const database = new Database(path.join(dataDir, databaseFileName), { readonly: true, fileMustExist: true });
  try {
    return (database.prepare("SELECT COALESCE(MAX(sequence), 0) AS head FROM audit_records").get() as { head: number }).head;
  } finally {
    database.close();
  }
}

function requestRecords(dataDir: string): number {
  const database = new Database(path.join(dataDir, databaseFileName), { readonly: true, fileMustExist: true });
  try {
    return (database.prepare("SELECT COUNT(*) AS n FROM audit_records WHERE kind = 'request'").get() as { n: number }).n;
  } finally {
    database.close();
  }
}

/** The sink's lines, oldest file first; every one must be a whole JSON record. */
function sinkLines(file: string): { sequence: number; kind: string; hash: string }[] {
  const files = fs
    .readdirSync(path.dirname(file))
    .filter((name) => name.startsWith(path.basename(file)))
    .sort((a, b) => (Number(b.split(".").at(-1)) || 0) - (Number(a.split(".").at(-1)) || 0));
  return files.flatMap((name) => {
    const text = fs.readFileSync(path.join(path.dirname(file), name), "utf8");
    expect(text === "" || text.endsWith("\n"), `${name} ends in a whole line`).toBe(true);
    return text
      .split("\n")
      .filter(Boolean)
      .map((line) => JSON.parse(line) as { sequence: number; kind: string; hash: string });
  });
}

async function until(condition: () => boolean, what: string, describe: () => string, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}\n${describe()}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

describe("kill -9 during 20 streamed answers (real model, file sink)", () => {
  it("leaves a verifiable ledger and, after a restart, a sink file holding every committed record", async () => {
    const cwd = tempDir("clawbot-audit-crash-");
    const port = await freePort();
    const secret = randomBytes(32).toString("base64url");
    const dataDir = path.join(cwd, "data");
    const sinkFile = path.join(cwd, "audit", "audit.jsonl");
    fs.writeFileSync(
      path.join(cwd, "clawbot.yaml"),
      YAML.stringify({
        agent: { model_path: await testModelPath(), data_dir: "./data", parallel: 8, max_queue: 32, max_tokens: 2000 },
        gateways: [{ type: "http", port, auth: { type: "jwt", secret } }],
        metrics: { port: 0 },
        // Small files, so the crash also lands around rotations.
        audit: { content: "full", sinks: [{ type: "file", path: "./audit/audit.jsonl", max_bytes: 16 * 1024, max_files: 1000 }] },
      }),
    );
    const env = sandboxEnv(cwd);
    const start = async (): Promise<CliProcess> => {
      const node = spawnCli(["start", "-c", "clawbot.yaml"], { cwd, env });
      await waitUntilReady(node, 120_000);
      return node;
    };

    const node = await start();
    const httpUrl = `http://127.0.0.1:${port}`;
    const streams: Stream[] = Array.from({ length: 20 }, () => ({ received: 0, done: false }));
    // A few short answers finish soon; the long ones are still streaming when the node is killed.
    const finished = Promise.all(
      streams.map(async (state, index) =>
        stream(httpUrl, await issueToken({ secret, subject: `user-${index}`, roles: ["user"], ttl: "1h" }), index % 4 === 0 ? 24 : 2000, state),
      ),
    );
    // Some answers complete (their records are committed), others are mid-stream: then the node dies without warning.
    const describe = () => `${JSON.stringify(streams)}\n${node.describe()}`;
    await until(() => streams.filter((state) => state.done).length >= 3 && streams.filter((state) => state.received > 0 && !state.done).length >= 3, "answers both done and in flight", describe);
    node.child.kill("SIGKILL");
    await node.exited;
    await finished;
    const completed = streams.filter((state) => state.done).length;
    expect(streams.filter((state) => !state.done).length, "some streams were cut by the kill").toBeGreaterThan(0);

    const verified = await runCli(["audit", "verify", "--data-dir", dataDir, "--json"], { cwd, env, timeoutMs: 60_000 });
    expect(verified.code, verified.stdout + verified.stderr).toBe(0);
    const report = JSON.parse(verified.stdout) as { ok: boolean; head: { sequence: number } };
    expect(report.ok).toBe(true);
    const head = ledgerHead(dataDir);
    expect(report.head.sequence).toBe(head);
    // Every answer the client saw finish was recorded before its finish was written.
    expect(requestRecords(dataDir)).toBeGreaterThanOrEqual(completed);

    // The restarted node's shipper catches up from the stored cursor: every committed record reaches the file.
    const restarted = await start();
    await until(
      () => {
        const shipped = new Set(sinkLines(sinkFile).map((line) => line.sequence));
        return Array.from({ length: head }, (_, index) => index + 1).every((sequence) => shipped.has(sequence));
      },
      `sequences 1..${head} in the sink file`,
      () => restarted.describe(),
    );
    restarted.child.kill("SIGTERM");
    expect((await restarted.exited).code, restarted.describe()).toBe(0);

    const finalHead = ledgerHead(dataDir);
    const lines = sinkLines(sinkFile);
    const records = lines.filter((line) => line.kind !== "checkpoint");
    // Delivery is at least once: duplicates may follow the crash, but each sequence carries the same hash every time.
    const hashes = new Map<number, string>();
    for (const line of records) {
      expect(hashes.get(line.sequence) ?? line.hash).toBe(line.hash);
      hashes.set(line.sequence, line.hash);
    }
    expect([...hashes.keys()].sort((a, b) => a - b)).toEqual(Array.from({ length: finalHead }, (_, index) => index + 1));
    const verifiedAgain = await runCli(["audit", "verify", "--data-dir", dataDir], { cwd, env, timeoutMs: 60_000 });
    expect(verifiedAgain.code, verifiedAgain.stdout + verifiedAgain.stderr).toBe(0);
  }, 240_000);
});
