// The backup drill: `clawbot backup` under load from 4 clients, `clawbot restore` refused while the node runs and accepted when it is stopped, sessions resume.
import { randomBytes } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import Database from "better-sqlite3";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import YAML from "yaml";
import { issueToken } from "../src/security/jwt-issuer.js";
import { openDatabase } from "../src/store/database.js";
import { freePort, killAll, removeTempDirs, runCli, sandboxEnv, spawnCli, tempDir, waitUntilReady, type CliProcess } from "./helpers/cli-process.js";
import { WsTestClient } from "./helpers/ws-test-client.js";

afterEach(killAll);
afterAll(removeTempDirs);

const subjects = ["ana", "ben", "cai", "dee"];

interface Drill {
  cwd: string;
  env: NodeJS.ProcessEnv;
  port: number;
  secret: string;
  dataDir: string;
}

async function drillDirectory(): Promise<Drill> {
  const cwd = tempDir("clawbot-backup-drill-");
  const port = await freePort();
  const secret = randomBytes(32).toString("base64url");
  const auth = { type: "jwt", secret };
  fs.writeFileSync(
    path.join(cwd, "clawbot.yaml"),
    YAML.stringify({ agent: { engine: "echo", system_prompt: "SYSTEM", data_dir: "./data" }, gateways: [{ type: "websocket", port, auth }], metrics: { port: 0 } }),
  );
  return { cwd, env: sandboxEnv(cwd), port, secret, dataDir: path.join(cwd, "data") };
}

async function startNode(drill: Drill): Promise<CliProcess> {
  const node = spawnCli(["start", "-c", "clawbot.yaml"], { cwd: drill.cwd, env: drill.env });
  await waitUntilReady(node);
  return node;
}

async function stopNode(node: CliProcess): Promise<void> {
  node.child.kill("SIGTERM");
  expect(await node.exited, node.describe()).toEqual({ code: 0, signal: null });
}

async function connect(drill: Drill, subject: string): Promise<WsTestClient> {
  return WsTestClient.connect(`ws://127.0.0.1:${drill.port}/`, { token: await issueToken({ secret: drill.secret, subject, roles: ["user"], ttl: "10m" }) });
}

/** Each stored conversation's user messages, by owner, from a database file. */
function userMessages(file: string): Map<string, string[]> {
  const database = new Database(file, { readonly: true });
  try {
    const rows = database.prepare("SELECT owner, session, position, role, content FROM session_turns ORDER BY owner, session, position").all() as {
      owner: string;
      session: string;
      position: number;
      role: string;
      content: string;
    }[];
    const byOwner = new Map<string, string[]>();
    for (const [index, row] of rows.entries()) {
      const previous = rows[index - 1];
      const sameSession = previous?.owner === row.owner && previous.session === row.session;
      // Whole exchanges only: a question is always stored with its answer, in one transaction.
      expect(row.position, `${row.owner} position`).toBe(sameSession ? (previous as { position: number }).position + 1 : row.position);
      expect(row.role).toBe(sameSession && previous.role === "user" ? "assistant" : "user");
      if (row.role === "user") byOwner.set(row.owner, [...(byOwner.get(row.owner) ?? []), row.content]);
    }
    expect(rows.at(-1)?.role).toBe("assistant");
    return byOwner;
  } finally {
    database.close();
  }
}

describe("clawbot backup and restore", () => {
  it("back up a node under load, restore it when stopped (refused while it runs), and its sessions resume", { timeout: 240_000 }, async () => {
    const drill = await drillDirectory();
    // An older conversation of 8 MiB, so the copy takes a while as the load writes.
    const database = openDatabase(drill.dataDir);
    const insert = database.prepare("INSERT INTO session_turns (owner, session, position, role, content, created_at) VALUES ('archive', 'old', ?, ?, ?, ?)");
    database.transaction(() => {
      for (let position = 0; position < 400; position += 1) insert.run(position, position % 2 === 0 ? "user" : "assistant", `${position} `.padEnd(20_000, "x"), Date.now());
    })();
    database.close();
    const node = await startNode(drill);

    // The load: 4 clients, each asking turn after turn in its own session until told to stop.
    const clients = await Promise.all(subjects.map((subject) => connect(drill, subject)));
    const sent = subjects.map(() => [] as string[]);
    const answered = subjects.map(() => 0);
    const failures: unknown[] = [];
    let loading = true;
    const loops = clients.map(async (client, index) => {
      for (let turn = 0; loading; turn += 1) {
        const message = `${subjects[index]} says ${turn}`;
        sent[index]?.push(message);
        const { end } = await client.chat(`${index}-${turn}`, message, { max_tokens: 2 }, "drill");
        if (end.type === "finish") answered[index] = turn + 1;
        else failures.push(end);
      }
    });
    const waitForTurns = async (count: number) => {
      while (answered.some((done) => done < count) && failures.length === 0) await new Promise((resolve) => setTimeout(resolve, 20));
    };
    await waitForTurns(3);

    const backup = path.join(drill.cwd, "backups", "drill.db");
    fs.mkdirSync(path.dirname(backup));
    const answeredBefore = [...answered];
    const backedUp = await runCli(["backup", backup, "-c", "clawbot.yaml"], { cwd: drill.cwd, env: drill.env });
    const answeredAfter = [...answered];
    expect(backedUp.code, backedUp.stderr).toBe(0);
    expect(backedUp.stdout).toContain(`Backed up ${path.join(drill.dataDir, "clawbot.db")} to ${backup} in `);
    expect(backedUp.stdout).toMatch(/ in \d+\.\d\d s \(integrity_check ok\): /);
    expect(backedUp.stdout).toMatch(/ 5 sessions \(\d+ turns\)/);
    expect(backedUp.stdout).toContain("Not included: saved sequence states");
    // The load goes on after the backup: those turns are not in it.
    await waitForTurns(Math.max(...answeredAfter) + 2);
    loading = false;
    await Promise.all(loops);
    // Not one request of the load failed while the backup ran (a locked database would be a storage_error).
    expect(failures).toEqual([]);

    // The copy: intact, private, and one consistent instant: each conversation holds the first k turns its client
    // sent, at least those answered before the backup began and at most those answered when it ended.
    const copy = new Database(backup, { readonly: true });
    expect(copy.pragma("integrity_check", { simple: true })).toBe("ok");
    copy.close();
    expect(fs.statSync(backup).mode & 0o777).toBe(0o600);
    const inBackup = userMessages(backup);
    for (const [index, subject] of subjects.entries()) {
      const messages = inBackup.get(subject) ?? [];
      expect(messages).toEqual(sent[index]?.slice(0, messages.length));
      expect(messages.length).toBeGreaterThanOrEqual(answeredBefore[index] as number);
      expect(messages.length).toBeLessThanOrEqual((answeredAfter[index] as number) + 1);
    }
    const anaInBackup = inBackup.get("ana") as string[];

    // While the node runs, restore is refused (also with --force), and nothing in the data directory changes.
    const filesBefore = fs.readdirSync(drill.dataDir).sort();
    const refused = await runCli(["restore", backup, "-c", "clawbot.yaml", "--force"], { cwd: drill.cwd, env: drill.env });
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain(`clawbot restore: a node (pid ${node.child.pid}, ${path.join(drill.dataDir, "clawbot.pid")}) is running on ${drill.dataDir}: stop it first.`);
    expect(fs.readdirSync(drill.dataDir).sort()).toEqual(filesBefore);
    // And a second node on the same data directory is refused at start.
    const second = await runCli(["start", "-c", "clawbot.yaml", "--port", String(await freePort())], { cwd: drill.cwd, env: drill.env });
    expect(second.code).toBe(1);
    expect(second.stderr).toContain(`Another node (pid ${node.child.pid}) is running on the data directory ${drill.dataDir}: two nodes must not share one database.`);
    for (const client of clients) client.close();
    await stopNode(node);
    expect(fs.existsSync(path.join(drill.dataDir, "clawbot.pid"))).toBe(false);

    // Changes after the backup: another run with more turns.
    const later = await startNode(drill);
    const ana = await connect(drill, "ana");
    expect((await ana.chat("later", "ana says something after the backup", { max_tokens: 2 }, "drill")).end.type).toBe("finish");
    ana.close();
    await stopNode(later);

    // The ledger would go back: refused without --force; with it, restored, the replaced database kept.
    const ledgerBack = await runCli(["restore", backup, "-c", "clawbot.yaml"], { cwd: drill.cwd, env: drill.env });
    expect(ledgerBack.code).toBe(1);
    expect(ledgerBack.stderr).toMatch(/The current database's audit ledger goes to record #\d+, the backup's to #\d+: restoring takes the ledger back/);
    const restored = await runCli(["restore", backup, "-c", "clawbot.yaml", "--force"], { cwd: drill.cwd, env: drill.env });
    expect(restored.code, restored.stderr).toBe(0);
    expect(restored.stdout).toContain(`Restored ${backup} into ${path.join(drill.dataDir, "clawbot.db")} (quick_check ok):`);
    const aside = restored.stdout.match(/^The database it replaced is kept: (\S+)$/m)?.[1] as string;
    expect(restored.stdout).toContain(`The way back (with the node stopped): clawbot restore ${aside} --data-dir ${drill.dataDir} --force`);
    expect(userMessages(aside).get("ana")?.at(-1)).toBe("ana says something after the backup");
    expect(userMessages(path.join(drill.dataDir, "clawbot.db"))).toEqual(inBackup);

    // The restored node: ana's conversation resumes from the backup's history (the echo engine answers with its
    // whole prompt), without what was said after the backup; and the audit ledger verifies.
    const resumed = await startNode(drill);
    const again = await connect(drill, "ana");
    const { end } = await again.chat("resume", "what did I say?", { max_tokens: 4000 }, "drill");
    expect(end.type).toBe("finish");
    const prompt = String(end.text);
    expect(prompt.startsWith("SYSTEM\nana says 0")).toBe(true);
    expect(prompt).toContain(`${anaInBackup.at(-1)}`);
    expect(prompt).not.toContain("after the backup");
    expect(prompt).not.toContain(`ana says ${anaInBackup.length}\n`);
    again.close();
    await stopNode(resumed);
    const verified = await runCli(["audit", "verify", "-c", "clawbot.yaml"], { cwd: drill.cwd, env: drill.env });
    expect(verified.code, `${verified.stdout}${verified.stderr}`).toBe(0);
    expect(verified.stdout).toContain("intact");
  });

  it("refuse an existing backup file and a file that is not a database, with exit code 1", async () => {
    const drill = await drillDirectory();
    const node = await startNode(drill);
    const existing = path.join(drill.cwd, "existing.db");
    fs.writeFileSync(existing, "keep me");
    const backup = await runCli(["backup", existing, "--data-dir", "data"], { cwd: drill.cwd, env: drill.env });
    expect(backup.code).toBe(1);
    expect(backup.stderr).toBe(`clawbot backup: ${existing} already exists: choose another name, or pass --force to replace it.\n`);
    expect(fs.readFileSync(existing, "utf8")).toBe("keep me");
    await stopNode(node);
    const restore = await runCli(["restore", existing, "--data-dir", "data"], { cwd: drill.cwd, env: drill.env });
    expect(restore.code).toBe(1);
    expect(restore.stderr).toContain("it is not an SQLite database.");
    expect(fs.readdirSync(drill.dataDir)).toEqual(["clawbot.db"]);
  });
});
