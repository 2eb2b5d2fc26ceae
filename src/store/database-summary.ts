// What a Clawbot database file holds (schema, sessions, audit head), and the checks a backup or a restore makes on one.
import fs from "node:fs";
import Database from "better-sqlite3";
import { ClawError } from "../core/errors.js";
import { openMemoryDatabase, type SqliteDatabase } from "./database.js";
import { describeSqliteFailure, sqliteCode } from "./storage-error.js";

export interface DatabaseSummary {
  /** Size of the file in bytes. */
  bytes: number;
  /** PRAGMA user_version: how many of the store's migrations it has. */
  schemaVersion: number;
  /** Conversations (owner and session id) with at least one stored turn. */
  sessions: number;
  turns: number;
  /** The last audit record, when the ledger has any. */
  auditHead: { sequence: number; hash: string } | undefined;
}

/** The schema version this Clawbot writes: that of a freshly migrated database. */
export function currentSchemaVersion(): number {
  const database = openMemoryDatabase();
  try {
    return database.pragma("user_version", { simple: true }) as number;
  } finally {
    database.close();
  }
}

/**
 * Opens a database file that is not in use by a node (a backup, a copy), checks it and reads its summary: it must
 * open, pass `check` (quick_check or the full integrity_check), hold this store's tables and not come from a newer
 * Clawbot. Throws a `storage_error` saying which check failed. The file may be changed: SQLite folds a -wal file next to
 * it in and removes it at close.
 */
export function checkDatabaseFile(file: string, check: "quick_check" | "integrity_check", options: { journalMode?: "delete" } = {}): DatabaseSummary {
  let database: SqliteDatabase | undefined;
  try {
    database = new Database(file, { fileMustExist: true });
    if (options.journalMode) database.pragma(`journal_mode = ${options.journalMode}`);
    const result = database.pragma(check, { simple: true });
    if (result !== "ok") throw new ClawError("storage_error", `${file} is damaged (${check}: ${String(result)}).`);
    const schemaVersion = database.pragma("user_version", { simple: true }) as number;
    const ours = currentSchemaVersion();
    if (schemaVersion > ours) {
      throw new ClawError(
        "storage_error",
        `${file} was written by a newer Clawbot (schema version ${schemaVersion}; this one knows up to ${ours}): use that version, or upgrade this one.`,
      );
    }
    if (schemaVersion < 1 || !hasTable(database, "session_turns")) throw new ClawError("storage_error", `${file} is an SQLite database, but not a Clawbot one (no session_turns table).`);
    return summarize(database, file);
  } catch (error) {
    if (error instanceof ClawError) throw error;
    const code = sqliteCode(error);
    const reason = code === "SQLITE_NOTADB" ? "it is not an SQLite database" : describeSqliteFailure(error);
    throw new ClawError("storage_error", `Cannot read ${file}: ${reason}.`, { cause: error });
  } finally {
    database?.close();
  }
}

/** The summary of an open database (read in one transaction, so the counts agree with each other). */
export function summarize(database: SqliteDatabase, file: string): DatabaseSummary {
  return database.transaction(() => {
    const { sessions, turns } = database.prepare("SELECT COUNT(DISTINCT owner || char(0) || session) AS sessions, COUNT(*) AS turns FROM session_turns").get() as {
      sessions: number;
      turns: number;
    };
    return {
      bytes: fs.statSync(file).size,
      schemaVersion: database.pragma("user_version", { simple: true }) as number,
      sessions,
      turns,
      auditHead: auditHead(database),
    };
  })();
}

/** The last audit record's sequence and hash, when the table exists and has rows. */
export function auditHead(database: SqliteDatabase): { sequence: number; hash: string } | undefined {
  if (!hasTable(database, "audit_records")) return undefined;
  return database.prepare("SELECT sequence, hash FROM audit_records ORDER BY sequence DESC LIMIT 1").get() as { sequence: number; hash: string } | undefined;
}

function hasTable(database: SqliteDatabase, name: string): boolean {
  return database.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?").get(name) !== undefined;
}

/** One line for people: "48.0 KiB, schema 6, 3 sessions (12 turns), audit head #40 <hash>". */
export function describeSummary(summary: DatabaseSummary): string {
  const audit = summary.auditHead ? `audit head #${summary.auditHead.sequence} ${summary.auditHead.hash}` : "no audit records";
  return `${formatBytes(summary.bytes)}, schema ${summary.schemaVersion}, ${summary.sessions} sessions (${summary.turns} turns), ${audit}`;
}

function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KiB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
}
