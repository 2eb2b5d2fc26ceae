// restoreDatabase: checks the backup before touching anything, moves the current database aside, puts the copy in place.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import Database from "better-sqlite3";
import { afterEach, describe, expect, it } from "vitest";
import { backupDatabase } from "./database-backup.js";
import { restoreDatabase } from "./database-restore.js";
import { currentSchemaVersion } from "./database-summary.js";
import { databaseFileName, openDatabase, type SqliteDatabase } from "./database.js";

const directories: string[] = [];
function temporaryDirectory(): string {
  const directory = fs.mkdtempSync(path.join(os.tmpdir(), "clawbot-restore-"));
  directories.push(directory);
  return directory;
}
afterEach(() => {
  for (const directory of directories.splice(0)) fs.rmSync(directory, { recursive: true, force: true });
});

function addTurns(database: SqliteDatabase, owner: string, count: number): void {
  const insert = database.prepare("INSERT INTO session_turns (owner, session, position, role, content, created_at) VALUES (?, 's', ?, 'user', ?, 0)");
  for (let turn = 0; turn < count; turn += 1) insert.run(owner, turn, `${owner} ${turn}`);
}

function addAudit(database: SqliteDatabase, count: number): void {
  const next = (database.prepare("SELECT COALESCE(MAX(sequence), 0) + 1 AS next FROM audit_records").get() as { next: number }).next;
  const insert = database.prepare("INSERT INTO audit_records (sequence, recorded_at, kind, body, hash) VALUES (?, 0, 'request', '{}', ?)");
  for (let sequence = next; sequence < next + count; sequence += 1) insert.run(sequence, `hash-${sequence}`);
}

/** A stopped node's data directory whose database holds `owner`'s turns, with its last changes left in the WAL. */
function stoppedNode(owner: string, turns: number, audit = 0): string {
  const dataDir = temporaryDirectory();
  const database = openDatabase(dataDir);
  addTurns(database, owner, turns);
  addAudit(database, audit);
  // A node killed with its changes in the WAL: copy the files as they are, without the close that folds it in.
  const crashed = temporaryDirectory();
  for (const name of fs.readdirSync(dataDir)) fs.copyFileSync(path.join(dataDir, name), path.join(crashed, name));
  database.close();
  return crashed;
}

function owners(file: string): string[] {
  const database = new Database(file, { readonly: true });
  try {
    return (database.prepare("SELECT DISTINCT owner FROM session_turns ORDER BY owner").all() as { owner: string }[]).map((row) => row.owner);
  } finally {
    database.close();
  }
}

const now = new Date("2026-03-01T08:00:00.123Z");
const asideName = `${databaseFileName}.before-restore-2026-03-01T08-00-00-123Z`;

describe("restoreDatabase", () => {
  it("puts the backup in place (0600) and keeps the current database, its WAL folded in, under a dated name", async () => {
    const source = stoppedNode("before", 3, 2);
    const backup = path.join(temporaryDirectory(), "backup.db");
    await backupDatabase(source, backup);
    const dataDir = stoppedNode("after", 5, 2);
    expect(fs.statSync(path.join(dataDir, `${databaseFileName}-wal`)).size).toBeGreaterThan(0);

    const result = restoreDatabase(dataDir, backup, { now });
    expect(result.summary).toMatchObject({ sessions: 1, turns: 3, auditHead: { sequence: 2 } });
    expect(result.movedAside).toEqual([path.join(dataDir, asideName)]);
    expect(fs.readdirSync(dataDir).sort()).toEqual([databaseFileName, asideName]);
    expect(owners(path.join(dataDir, databaseFileName))).toEqual(["before"]);
    // Everything the replaced database held, WAL included, is in the one moved-aside file.
    expect(owners(path.join(dataDir, asideName))).toEqual(["after"]);
    expect(fs.statSync(path.join(dataDir, databaseFileName)).mode & 0o777).toBe(0o600);
    // The node opens it as its own.
    openDatabase(dataDir).close();
  });

  it("restores into an empty data directory, and takes a hand-made copy's -wal file with it", () => {
    const copy = stoppedNode("copied", 2);
    const dataDir = path.join(temporaryDirectory(), "new", "data");
    const result = restoreDatabase(dataDir, path.join(copy, databaseFileName), { now });
    expect(result.movedAside).toEqual([]);
    expect(result.summary.turns).toBe(2);
    expect(fs.readdirSync(dataDir)).toEqual([databaseFileName]);
    expect(fs.statSync(dataDir).mode & 0o777).toBe(0o700);
  });

  it("refuses a file that is not a database, changing nothing", () => {
    const dataDir = stoppedNode("current", 1);
    const before = fs.readdirSync(dataDir).sort();
    const notADatabase = path.join(temporaryDirectory(), "notes.txt");
    fs.writeFileSync(notADatabase, "these are not the pages you are looking for ".repeat(200));
    expect(() => restoreDatabase(dataDir, notADatabase)).toThrow(`Cannot read ${path.join(dataDir, `.${databaseFileName}.restoring-${process.pid}`)}: it is not an SQLite database.`);
    expect(fs.readdirSync(dataDir).sort()).toEqual(before);
    expect(() => restoreDatabase(dataDir, path.join(dataDir, "missing.db"))).toThrow(`There is no file ${path.join(dataDir, "missing.db")}.`);
    expect(() => restoreDatabase(dataDir, path.join(dataDir, databaseFileName))).toThrow("is the node's own database");
  });

  it("refuses a database of a newer Clawbot, and an SQLite database that is not Clawbot's", () => {
    const dataDir = stoppedNode("current", 1);
    const newer = path.join(temporaryDirectory(), "newer.db");
    const database = new Database(newer);
    database.exec("CREATE TABLE session_turns (owner TEXT)");
    database.pragma(`user_version = ${currentSchemaVersion() + 1}`);
    database.close();
    expect(() => restoreDatabase(dataDir, newer)).toThrow(`was written by a newer Clawbot (schema version ${currentSchemaVersion() + 1}; this one knows up to ${currentSchemaVersion()})`);
    const other = path.join(temporaryDirectory(), "other.db");
    new Database(other).exec("CREATE TABLE things (name TEXT)");
    expect(() => restoreDatabase(dataDir, other)).toThrow("is an SQLite database, but not a Clawbot one (no session_turns table).");
    expect(owners(path.join(dataDir, databaseFileName))).toEqual(["current"]);
  });

  it("refuses a damaged database", async () => {
    const source = stoppedNode("damaged", 200);
    const backup = path.join(temporaryDirectory(), "backup.db");
    await backupDatabase(source, backup);
    // Overwrite the middle of the file (a page of the session table) with garbage.
    const bytes = fs.readFileSync(backup);
    bytes.fill(0x5a, 4096 + 100, 4096 * 3);
    fs.writeFileSync(backup, bytes);
    const dataDir = stoppedNode("current", 1);
    expect(() => restoreDatabase(dataDir, backup)).toThrow(/is damaged|the database file is damaged/);
    expect(owners(path.join(dataDir, databaseFileName))).toEqual(["current"]);
  });

  it("takes the audit ledger back only with force", async () => {
    const source = stoppedNode("before", 1, 3);
    const backup = path.join(temporaryDirectory(), "backup.db");
    await backupDatabase(source, backup);
    const dataDir = stoppedNode("after", 1, 7);
    expect(() => restoreDatabase(dataDir, backup, { now })).toThrow(
      "The current database's audit ledger goes to record #7, the backup's to #3: restoring takes the ledger back, and records #4–#7 stay only in the moved-aside file",
    );
    expect(owners(path.join(dataDir, databaseFileName))).toEqual(["after"]);
    expect(fs.readdirSync(dataDir).filter((name) => name.startsWith("."))).toEqual([]);
    restoreDatabase(dataDir, backup, { now, force: true });
    expect(owners(path.join(dataDir, databaseFileName))).toEqual(["before"]);
  });
});
