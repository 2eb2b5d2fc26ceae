// Erases a data subject (PIPL): its sessions, MQTT ledger entries, saved states and audit texts, then writes a tombstone.
import { eraseSubjectTexts } from "../audit/audit-erasure.js";
import { eraseText, type ErasedText } from "../audit/audit-canonical.js";
import type { SqliteDatabase } from "../store/database.js";
import { checkpointAfterErasure, deleteSubjectRows, deleteSubjectStates, withSecureDelete } from "../store/erasure.js";

/**
 * Another store of personal data the erasure must reach (the knowledge base's documents, once it exists: issue 12+).
 * `erase` runs inside the erasure's transaction and returns how many items it deleted.
 */
export interface SubjectDataEraser {
  kind: string;
  erase(subject: string): number;
}

export interface SubjectErasureOptions {
  database: SqliteDatabase;
  /** The node's data directory (saved sequence states live under it). */
  dataDir: string;
  subject: string;
  /** Who asked: the admin's subject, or `cli:<user>`. */
  by: string;
  /** Appends the tombstone (the node's AuditTrail.recordEvent, or a ledger opened by the CLI); undefined: none. */
  recordTombstone?: (body: Record<string, unknown>) => void;
  /** More stores to erase from (none yet: knowledge-base documents join here). */
  erasers?: readonly SubjectDataEraser[];
}

export interface SubjectErasure {
  subject: ErasedText;
  /** The kinds where something was erased. */
  kinds: string[];
  counts: Record<string, number>;
  /** Whether the WAL was folded in and truncated (no older copy of the erased pages left in it). */
  checkpointed: boolean;
}

/**
 * Deletes the subject's saved sequence states, then in one transaction with secure_delete: its session messages, its
 * MQTT request ledger entries, what `erasers` hold, and its texts in the audit ledger (replaced by their SM3 digests;
 * the chain still verifies), and appends the tombstone `erasure` record — all or nothing. Then checkpoints the WAL.
 * Erasing a subject with nothing stored is not an error: the counts are 0 and the tombstone is written.
 */
export function eraseSubject(options: SubjectErasureOptions): SubjectErasure {
  const { database, subject } = options;
  const sequenceStates = deleteSubjectStates(options.dataDir, subject);
  const counts: Record<string, number> = withSecureDelete(database, () => {
    const rows = deleteSubjectRows(database, subject);
    const extra = Object.fromEntries((options.erasers ?? []).map((eraser) => [eraser.kind, eraser.erase(subject)]));
    const auditRecords = eraseSubjectTexts(database, subject);
    const all: Record<string, number> = { ...rows, sequence_states: sequenceStates, ...extra, audit_records: auditRecords };
    options.recordTombstone?.({ by: options.by, subject: eraseText(subject), kinds: erasedKinds(all), counts: all });
    return all;
  });
  return { subject: eraseText(subject), kinds: erasedKinds(counts), counts, checkpointed: checkpointAfterErasure(database) };
}

function erasedKinds(counts: Record<string, number>): string[] {
  return Object.entries(counts)
    .filter(([, count]) => count > 0)
    .map(([kind]) => kind);
}
