// Reads a node's audit ledger for `clawbot audit verify|export`: read-only, beside a running node (WAL), in sequence order.
import fs from "node:fs";
import path from "node:path";
import Database from "better-sqlite3";
import { databaseFileName, type SqliteDatabase } from "../store/database.js";
import { genesisHash } from "./audit-canonical.js";
import { verifyChain, type ChainSummary, type RawAuditRecord } from "./audit-verify.js";

/** A problem reading the ledger (no database, not readable, no audit table): exit code 2, not a broken chain. */
export class AuditReadError extends Error {
  override name = "AuditReadError";
}

/** One row of audit_records as the readers select it. */
export interface AuditRow {
  sequence: number;
  recorded_at: number;
  kind: string;
  body: string;
  hash: string;
}

/** Opens data_dir/clawbot.db read-only; a running node keeps writing while it is read. */
export function openAuditDatabase(dataDir: string): SqliteDatabase {
  const file = path.join(dataDir, databaseFileName);
  if (!fs.existsSync(file)) throw new AuditReadError(`no database at ${file} (is --data-dir the node's agent.data_dir?)`);
  let database: SqliteDatabase | undefined;
  try {
    database = new Database(file, { readonly: true, fileMustExist: true });
    database.pragma("busy_timeout = 2000");
    const table = database.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'audit_records'").get();
    if (!table) throw new AuditReadError(`${file} holds no audit ledger (the node has not run a version that keeps one)`);
    return database;
  } catch (error) {
    database?.close();
    if (error instanceof AuditReadError) throw error;
    throw new AuditReadError(`cannot read ${file}: ${(error as Error).message}`);
  }
}

/** Every record in sequence order, one at a time. */
export function* auditRows(database: SqliteDatabase): Generator<RawAuditRecord> {
  const rows = database.prepare("SELECT sequence, recorded_at, kind, body, hash FROM audit_records ORDER BY sequence").iterate() as IterableIterator<AuditRow>;
  for (const row of rows) yield { sequence: row.sequence, recordedAt: row.recorded_at, kind: row.kind, body: row.body, hash: row.hash };
}

/** The highest sequence the table ever held (AUTOINCREMENT's sqlite_sequence), undefined when not kept. */
export function highestEverSequence(database: SqliteDatabase): number | undefined {
  try {
    const row = database.prepare("SELECT seq FROM sqlite_sequence WHERE name = 'audit_records'").get() as { seq: number } | undefined;
    return row?.seq;
  } catch {
    return undefined;
  }
}

/** Verifies the whole chain of the ledger under dataDir, in one read transaction (a consistent snapshot). */
export function verifyLedger(dataDir: string): ChainSummary {
  const database = openAuditDatabase(dataDir);
  try {
    return database.transaction(() => verifyChain(auditRows(database), { highestEver: highestEverSequence(database) }))();
  } finally {
    database.close();
  }
}

/** One exported line: the record as stored, its time in ISO 8601 and the hash it chains from. */
export interface ExportedRecord {
  sequence: number;
  recorded_at: number;
  time: string;
  kind: string;
  body: unknown;
  hash: string;
  /** null when the record before it is missing. */
  prev_hash: string | null;
}

/** Records with since ≤ recorded_at < until (epoch ms), in sequence order, each line verifiable from its prev_hash. */
export function* exportRecords(database: SqliteDatabase, since: number, until: number): Generator<ExportedRecord> {
  const rows = database
    .prepare(
      `SELECT r.sequence, r.recorded_at, r.kind, r.body, r.hash,
              (SELECT p.hash FROM audit_records p WHERE p.sequence = r.sequence - 1) AS prev_hash
         FROM audit_records r WHERE r.recorded_at >= ? AND r.recorded_at < ? ORDER BY r.sequence`,
    )
    .iterate(since, until) as IterableIterator<AuditRow & { prev_hash: string | null }>;
  for (const row of rows) {
    let body: unknown;
    try {
      body = JSON.parse(row.body);
    } catch {
      body = row.body;
    }
    yield {
      sequence: row.sequence,
      recorded_at: row.recorded_at,
      time: new Date(row.recorded_at).toISOString(),
      kind: row.kind,
      body,
      hash: row.hash,
      prev_hash: row.prev_hash ?? (row.sequence === 1 ? genesisHash : null),
    };
  }
}

const units: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };

/**
 * A time argument as epoch ms: relative (`90s`, `15m`, `24h`, `7d`, `2w`: that long before `now`) or ISO 8601
 * (`2026-03-01`, UTC midnight; `2026-03-01T08:00:00Z` or with an offset such as `+08:00`; without an offset: local time).
 */
export function parseTimeArgument(text: string, now: number = Date.now()): number {
  const relative = /^(\d+)([smhdw])$/.exec(text.trim());
  if (relative) return now - Number(relative[1]) * (units[relative[2] as string] as number);
  if (/^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?)?$/.test(text.trim())) {
    const value = Date.parse(text.trim());
    if (Number.isFinite(value)) return value;
  }
  throw new AuditReadError(`"${text}" is not a time: give ISO 8601 (2026-03-01, 2026-03-01T08:00:00Z) or a duration before now (90s, 15m, 24h, 7d, 2w)`);
}
