// Re-computes the audit chain from the first record: the first record that was changed, removed, inserted or reordered.
import { chainHash, genesisHash, isErasedText, textFields } from "./audit-canonical.js";
import type { StoredAuditRecord } from "./audit-record.js";

export type ChainProblem =
  /** The stored hash is not SM3(previous hash ‖ canonical record): the record (or one before it) was changed or forged. */
  | "changed"
  /** A sequence number is missing: that record was deleted. */
  | "missing"
  /** A sequence number comes again or goes back: duplicated or reordered records. */
  | "out_of_order"
  /** The body cannot be read as a record (not JSON, a text field holding something else). */
  | "unreadable"
  /** Records after the last one were deleted (the table's highest-ever sequence is higher). */
  | "truncated";

export interface ChainBreak {
  /** The first bad sequence (for `missing` and `truncated`: the first missing one). */
  sequence: number;
  problem: ChainProblem;
  /** One sentence for people. */
  message: string;
}

export interface ChainSummary {
  records: number;
  /** The last good record (sequence 0 and the genesis hash when there are none). */
  head: { sequence: number; hash: string };
  /** Epoch milliseconds of the first and last record. */
  firstAt: number | undefined;
  lastAt: number | undefined;
  /** Text fields given as their digest (`audit.content: hash`, or erased). */
  erasedTexts: number;
  /** The first problem, or undefined when the chain is intact. */
  broken: ChainBreak | undefined;
}

/** A row as read: the body still as stored (it may not even be JSON). */
export interface RawAuditRecord extends Omit<StoredAuditRecord, "body" | "kind"> {
  kind: string;
  body: string;
}

export interface VerifyChainOptions {
  /** Where the records start: 1 and the genesis hash for a whole ledger; later for a slice (an export's first prev_hash). */
  startSequence?: number;
  startHash?: string;
  /** The highest sequence the ledger ever held (sqlite_sequence), to notice a cut tail. */
  highestEver?: number;
}

/** Walks the records in the order given and stops at the first problem. */
export function verifyChain(records: Iterable<RawAuditRecord>, options: VerifyChainOptions = {}): ChainSummary {
  let expected = options.startSequence ?? 1;
  let previousHash = options.startHash ?? genesisHash;
  const summary: ChainSummary = { records: 0, head: { sequence: expected - 1, hash: previousHash }, firstAt: undefined, lastAt: undefined, erasedTexts: 0, broken: undefined };
  const fail = (sequence: number, problem: ChainProblem, message: string): ChainSummary => ({ ...summary, broken: { sequence, problem, message } });
  for (const record of records) {
    if (record.sequence > expected) {
      const last = record.sequence - 1;
      const which = last === expected ? `record ${expected} is` : `records ${expected}–${last} are`;
      return fail(expected, "missing", `${which} missing (deleted): the next record is ${record.sequence}`);
    }
    if (record.sequence < expected) {
      return fail(record.sequence, "out_of_order", `record ${record.sequence} comes again or out of order after record ${expected - 1}`);
    }
    let body: Record<string, unknown>;
    let hash: string;
    try {
      const parsed: unknown = JSON.parse(record.body);
      if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed)) throw new TypeError("the body is not a JSON object");
      body = parsed as Record<string, unknown>;
      hash = chainHash(previousHash, { sequence: record.sequence, recordedAt: record.recordedAt, kind: record.kind, body });
    } catch (error) {
      return fail(record.sequence, "unreadable", `record ${record.sequence} cannot be read: ${(error as Error).message}`);
    }
    if (hash !== record.hash) {
      return fail(record.sequence, "changed", `record ${record.sequence} does not match its hash: it was changed, forged or put in another's place`);
    }
    summary.erasedTexts += textFields.filter((field) => isErasedText(body[field])).length;
    summary.records += 1;
    summary.head = { sequence: record.sequence, hash };
    summary.firstAt ??= record.recordedAt;
    summary.lastAt = record.recordedAt;
    previousHash = hash;
    expected += 1;
  }
  if (options.highestEver !== undefined && options.highestEver >= expected) {
    const which = options.highestEver === expected ? `record ${expected} was` : `records ${expected}–${options.highestEver} were`;
    return fail(expected, "truncated", `${which} deleted from the end of the ledger (it once reached ${options.highestEver})`);
  }
  return summary;
}
