// Erases a data subject's texts in the audit ledger: each text field of its records becomes {"sm3": digest}, so the chain still verifies.
import type { SqliteDatabase } from "../store/database.js";
import { eraseText, isErasedText, sm3Hex, textFields } from "./audit-canonical.js";

/** Body keys that name who a record is about, or who acted. */
const personFields = ["subject", "by"] as const;

/**
 * Replaces every text field (docs/audit.md "Text fields") of each record about the subject — its `subject` or `by` is
 * the subject, or already the subject's SM3 digest — by its SM3 digest. Only the bodies change (the table's triggers
 * allow nothing else), and the canonical form covers digests, so every hash still matches. Run it in the erasure's
 * transaction with secure_delete on. Returns the number of records changed.
 */
export function eraseSubjectTexts(database: SqliteDatabase, subject: string): number {
  const digest = sm3Hex(subject);
  // A first cut in SQL (the subject as JSON writes it, or its digest); each candidate is then checked field by field.
  const needle = JSON.stringify(subject);
  const candidates = database
    .prepare("SELECT sequence, body FROM audit_records WHERE instr(body, ?) > 0 OR instr(body, ?) > 0 ORDER BY sequence")
    .iterate(needle, digest) as IterableIterator<{ sequence: number; body: string }>;
  const update = database.prepare("UPDATE audit_records SET body = ? WHERE sequence = ?");
  const changes: [string, number][] = [];
  for (const row of candidates) {
    let body: Record<string, unknown>;
    try {
      body = JSON.parse(row.body) as Record<string, unknown>;
    } catch {
      continue;
    }
    if (!personFields.some((field) => isSubject(body[field], subject, digest))) continue;
    const erased = eraseTexts(body);
    if (erased) changes.push([JSON.stringify(erased), row.sequence]);
  }
  for (const [body, sequence] of changes) update.run(body, sequence);
  return changes.length;
}

function isSubject(value: unknown, subject: string, digest: string): boolean {
  return value === subject || (isErasedText(value) && value.sm3 === digest);
}

/** The body with every text field that holds a string replaced by its digest; undefined when there was none. */
function eraseTexts(body: Record<string, unknown>): Record<string, unknown> | undefined {
  let changed = false;
  const result = { ...body };
  for (const field of textFields) {
    const value = body[field];
    if (typeof value === "string") {
      result[field] = eraseText(value);
      changed = true;
    }
  }
  return changed ? result : undefined;
}
