// backupDatabase: a consistent, checked, private single-file copy; refusals; waiting politely while the database is locked.
import { spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import Database from "better-sqlite3";
import { afterEach, describe, expect, it } from "vitest";
import { backupDatabase } from "./database-backup.js";
import { databaseFileName, openDatabase, type SqliteDatabase } from "./database.js";

const directories: string[] = [];
const open: SqliteDatabase[] = [];
function temporaryDirectory(): string {
  const directory = fs.mkdtempSync(path.join(os.tmpdir(), "clawbot-backup-"));
  directories.push(directory);
  return directory;
}
afterEach(() => {
  for (const database of open.splice(0)) if (database.open) database.close();
  for (const directory of directories.splice(0)) fs.rmSync(directory, { recursive: true, force: true });
});

/** A node's database (left open, as a running node holds it) with `turns` turns in two sessions and `audit` audit records. */
function populatedDatabase(dataDir: string, turns: number, audit = 0): SqliteDatabase {
  const database = openDatabase(dataDir);
  open.push(database);
  addTurns(database, 0, turns);
  const insert = database.prepare("INSERT INTO audit_records (sequence, recorded_at, kind, body, hash) VALUES (?, ?, 'request', '{}', ?)");
  for (let sequence = 1; sequence <= audit; sequence += 1) insert.run(sequence, Date.now(), `hash-${sequence}`);
  return database;
}

function addTurns(database: SqliteDatabase, from: number, count: number): void {
  const insert = database.prepare("INSERT INTO session_turns (owner, session, position, role, content, created_at) VALUES ('alice', ?, ?, 'user', ?, 0)");
  database.transaction(() => {
    for (let turn = from; turn < from + count; turn += 1) insert.run(`session-${turn % 2}`, turn, `turn ${turn}`);
  })();
}

function turnsIn(file: string): number {
  const database = new Database(file, { readonly: true });
  try {
    return (database.prepare("SELECT COUNT(*) AS count FROM session_turns").get() as { count: number }).count;
  } finally {
    database.close();
  }
}

describe("backupDatabase", () => {
  it("copies an open database, with what is still in its WAL, to one private file that passes integrity_check", async () => {
    const dataDir = temporaryDirectory();
    const database = populatedDatabase(dataDir, 40, 3);
    // Committed, but still only in the WAL: the copy must hold it.
    expect(fs.statSync(path.join(dataDir, `${databaseFileName}-wal`)).size).toBeGreaterThan(0);
    const target = path.join(temporaryDirectory(), "backup.db");
    const result = await backupDatabase(dataDir, target);
    expect(result.summary).toMatchObject({ sessions: 2, turns: 40, auditHead: { sequence: 3, hash: "hash-3" }, bytes: fs.statSync(target).size });
    expect(fs.statSync(target).mode & 0o777).toBe(0o600);
    expect(fs.readdirSync(path.dirname(target))).toEqual(["backup.db"]);
    // A single file: journal mode delete, nothing beside it.
    const copy = new Database(target, { readonly: true });
    expect(copy.pragma("journal_mode", { simple: true })).toBe("delete");
    expect(copy.pragma("integrity_check", { simple: true })).toBe("ok");
    copy.close();
    // The node's database goes on taking writes.
    addTurns(database, 40, 1);
    expect(turnsIn(target)).toBe(40);
  });

  it("says there are no audit records when the ledger is empty", async () => {
    const dataDir = temporaryDirectory();
    populatedDatabase(dataDir, 2);
    const result = await backupDatabase(dataDir, path.join(dataDir, "..", `${path.basename(dataDir)}-backup.db`));
    directories.push(result.file);
    expect(result.summary.auditHead).toBeUndefined();
  });

  it("refuses to replace an existing file unless forced, and leaves the file as it was", async () => {
    const dataDir = temporaryDirectory();
    populatedDatabase(dataDir, 4);
    const target = path.join(temporaryDirectory(), "backup.db");
    fs.writeFileSync(target, "precious");
    await expect(backupDatabase(dataDir, target)).rejects.toThrow(`${target} already exists: choose another name, or pass --force to replace it.`);
    expect(fs.readFileSync(target, "utf8")).toBe("precious");
    await backupDatabase(dataDir, target, { force: true });
    expect(turnsIn(target)).toBe(4);
  });

  it("refuses a data directory without a database, the node's own files as the target, and a missing directory", async () => {
    const empty = temporaryDirectory();
    await expect(backupDatabase(empty, path.join(empty, "backup.db"))).rejects.toThrow(`There is no database at ${path.join(empty, databaseFileName)}`);
    expect(fs.readdirSync(empty)).toEqual([]);
    const dataDir = temporaryDirectory();
    populatedDatabase(dataDir, 1);
    await expect(backupDatabase(dataDir, path.join(dataDir, databaseFileName), { force: true })).rejects.toThrow("is the node's own database");
    await expect(backupDatabase(dataDir, path.join(dataDir, `${databaseFileName}-wal`), { force: true })).rejects.toThrow("is the node's own database");
    await expect(backupDatabase(dataDir, path.join(dataDir, "no", "such", "dir", "backup.db"))).rejects.toThrow("does not exist");
  });

  it("waits while another process holds the database locked, then copies what it committed", async () => {
    const dataDir = temporaryDirectory();
    // A rollback-journal database: there, unlike in WAL mode, a writer's exclusive lock keeps readers out.
    populatedDatabase(dataDir, 2).pragma("journal_mode = delete");
    open.splice(0).forEach((database) => database.close());
    const holder = spawn(
      process.execPath,
      [
        "-e",
        `const db = require("better-sqlite3")(process.argv[1]);
         db.exec("BEGIN EXCLUSIVE");
         db.prepare("INSERT INTO session_turns (owner, session, position, role, content, created_at) VALUES ('bob', 'late', 0, 'user', 'late', 0)").run();
         process.stdout.write("locked\\n");
         setTimeout(() => { db.exec("COMMIT"); db.close(); }, 1600);`,
        path.join(dataDir, databaseFileName),
      ],
      { cwd: process.cwd(), stdio: ["ignore", "pipe", "inherit"] },
    );
    const exited = new Promise((resolve) => holder.once("exit", resolve));
    await new Promise<void>((resolve) => holder.stdout.once("data", () => resolve()));
    const target = path.join(temporaryDirectory(), "backup.db");
    const result = await backupDatabase(dataDir, target);
    await exited;
    expect(result.summary).toMatchObject({ sessions: 3, turns: 3 });
  });

  it("gives up when the database stays locked, leaving nothing behind", async () => {
    const dataDir = temporaryDirectory();
    const database = populatedDatabase(dataDir, 2);
    database.pragma("journal_mode = delete");
    database.exec("BEGIN EXCLUSIVE");
    database.prepare("INSERT INTO session_turns (owner, session, position, role, content, created_at) VALUES ('bob', 'x', 0, 'user', 'x', 0)").run();
    const backups = temporaryDirectory();
    await expect(backupDatabase(dataDir, path.join(backups, "backup.db"), { lockedTimeoutMs: 300 })).rejects.toThrow("The database stayed locked for 0.3 s; nothing was copied.");
    expect(fs.readdirSync(backups)).toEqual([]);
    database.exec("ROLLBACK");
  });
});
