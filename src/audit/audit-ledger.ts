// The hash-chained, append-only audit ledger in table audit_records: appends, reads for the sinks, change notices.
import type Database from "better-sqlite3";
import type { SqliteDatabase } from "../store/database.js";
import { chainHash, genesisHash } from "./audit-canonical.js";
import type { AuditHead, AuditKind, AuditSource, StoredAuditRecord } from "./audit-record.js";

interface RecordRow {
  sequence: number;
  recorded_at: number;
  kind: string;
  body: string;
  hash: string;
}

/**
 * Appends are synchronous and cheap: the head (sequence and hash) is read once at open and kept in memory. An append
 * may run inside a caller's transaction (the pipeline records a request together with its session exchange); until
 * that transaction has ended the head is unconfirmed, and the next append (or head()) reads it again from the table,
 * so a rolled-back append never leaves a gap or a broken link. Listeners are told after the caller's code has
 * returned (a microtask), when the transaction has committed or rolled back.
 */
export class AuditLedger implements AuditSource {
  private current: AuditHead;
  /** The last append ran inside a transaction that may still roll back. */
  private unconfirmed = false;
  private notifying = false;
  private readonly listeners = new Set<() => void>();
  private readonly insert: Database.Statement;
  private readonly selectHead: Database.Statement;
  private readonly selectAfter: Database.Statement;

  constructor(
    private readonly database: SqliteDatabase,
    private readonly clock: () => number = Date.now,
  ) {
    this.insert = database.prepare("INSERT INTO audit_records (sequence, recorded_at, kind, body, hash) VALUES (?, ?, ?, ?, ?)");
    this.selectHead = database.prepare("SELECT sequence, hash FROM audit_records ORDER BY sequence DESC LIMIT 1");
    this.selectAfter = database.prepare("SELECT sequence, recorded_at, kind, body, hash FROM audit_records WHERE sequence > ? ORDER BY sequence LIMIT ?");
    this.current = this.readHead();
  }

  /** Appends one record after the head; throws (SQLite's error) when it cannot be written, leaving the head as it was. */
  append(kind: AuditKind, body: Record<string, unknown>): StoredAuditRecord {
    const previous = this.confirmedHead();
    const record = { sequence: previous.sequence + 1, recordedAt: this.clock(), kind, body };
    const hash = chainHash(previous.hash, record);
    this.insert.run(record.sequence, record.recordedAt, kind, JSON.stringify(body), hash);
    this.current = { sequence: record.sequence, hash };
    if (this.database.inTransaction) this.unconfirmed = true;
    this.scheduleNotice();
    return { ...record, hash };
  }

  head(): AuditHead {
    return { ...this.confirmedHead() };
  }

  after(sequence: number, limit: number): StoredAuditRecord[] {
    return (this.selectAfter.all(sequence, limit) as RecordRow[]).map(toStoredRecord);
  }

  subscribe(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Tells the listeners now (a checkpoint). */
  notify(): void {
    for (const listener of [...this.listeners]) {
      try {
        listener();
      } catch {
        // A sink's listener owns its errors; the ledger goes on.
      }
    }
  }

  private confirmedHead(): AuditHead {
    if (this.unconfirmed) {
      this.current = this.readHead();
      this.unconfirmed = this.database.inTransaction;
    }
    return this.current;
  }

  private readHead(): AuditHead {
    const row = this.selectHead.get() as { sequence: number; hash: string } | undefined;
    return row ? { sequence: row.sequence, hash: row.hash } : { sequence: 0, hash: genesisHash };
  }

  /** After the caller's synchronous code (and its transaction) has ended: settle the head, then tell the listeners. */
  private scheduleNotice(): void {
    if (this.notifying) return;
    this.notifying = true;
    queueMicrotask(() => {
      this.notifying = false;
      if (this.database.open) this.confirmedHead();
      this.notify();
    });
  }
}

export function toStoredRecord(row: RecordRow): StoredAuditRecord {
  return { sequence: row.sequence, recordedAt: row.recorded_at, kind: row.kind as AuditKind, body: JSON.parse(row.body) as Record<string, unknown>, hash: row.hash };
}
