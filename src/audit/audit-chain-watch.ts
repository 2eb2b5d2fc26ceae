// Verifies a running node's audit chain a bounded slice at a time (the console's audit panel), caching how far it is good.
import type { SqliteDatabase } from "../store/database.js";
import { genesisHash } from "./audit-canonical.js";
import { highestEverSequence, type AuditRow } from "./audit-database.js";
import { verifyChain, type ChainBreak, type RawAuditRecord } from "./audit-verify.js";

/** What the console shows of the chain. */
export interface AuditChainState {
  /** The newest record's sequence and hash as stored (0 and the genesis hash when empty). */
  head_sequence: number;
  head_hash: string;
  /** The chain is verified good from record 1 up to this sequence. */
  verified_sequence: number;
  verified_ok: boolean;
  /** The first bad sequence once a break was found, else null. */
  broken_at: number | null;
  /** The kind of break (changed, missing, out_of_order, unreadable, truncated) and its sentence, else null. */
  problem: string | null;
  message: string | null;
}

/** Records hashed per check by default: a few milliseconds of SM3, so a status poll stays cheap on any ledger. */
export const defaultAuditCheckBudget = 2000;

/**
 * Two cursors over the ledger: `verified` goes forward over new records; once it reaches the head, the rest of the
 * budget re-reads the verified part from record 1 (`sweep`), so a record changed after it was verified is found too.
 * A break, once found, stays reported (an intact chain cannot become intact again by itself).
 */
export class AuditChainWatch {
  private verified = { sequence: 0, hash: genesisHash };
  private sweep = { sequence: 0, hash: genesisHash };
  private broken: ChainBreak | undefined;
  private readonly selectAfter;
  private readonly selectHead;

  constructor(private readonly database: SqliteDatabase, private readonly budget = defaultAuditCheckBudget) {
    this.selectAfter = database.prepare<[number, number], AuditRow>("SELECT sequence, recorded_at, kind, body, hash FROM audit_records WHERE sequence > ? ORDER BY sequence LIMIT ?");
    this.selectHead = database.prepare<[], { sequence: number; hash: string }>("SELECT sequence, hash FROM audit_records ORDER BY sequence DESC LIMIT 1");
  }

  /** Verifies up to the budget's records (in one read transaction) and answers the state. */
  check(): AuditChainState {
    return this.database.transaction(() => {
      if (!this.broken) this.advance();
      return this.state();
    })();
  }

  private advance(): void {
    const rows = this.rows(this.verified.sequence, this.budget);
    const atEnd = rows.length < this.budget;
    const forward = verifyChain(rows, {
      startSequence: this.verified.sequence + 1,
      startHash: this.verified.hash,
      ...(atEnd ? { highestEver: highestEverSequence(this.database) } : {}),
    });
    // verifyChain's head is the last good record, with or without a break after it.
    this.verified = forward.head;
    if (forward.broken) return void (this.broken = forward.broken);
    const left = this.budget - rows.length;
    if (!atEnd || left <= 0) return;
    // Caught up: spend the rest re-reading from record 1, up to what was verified.
    const again = this.rows(this.sweep.sequence, Math.min(left, this.verified.sequence - this.sweep.sequence));
    const swept = verifyChain(again, { startSequence: this.sweep.sequence + 1, startHash: this.sweep.hash });
    if (swept.broken) return void (this.broken = swept.broken);
    if (swept.head.sequence < this.verified.sequence) return void (this.sweep = swept.head);
    // A consistent chain that no longer ends in the hash verified before was rewritten whole (hashes recomputed).
    if (swept.head.hash !== this.verified.hash) {
      const sequence = this.verified.sequence;
      this.broken = { sequence, problem: "changed", message: `the chain up to record ${sequence} was rewritten after it was verified (its hashes recomputed)` };
    }
    this.sweep = { sequence: 0, hash: genesisHash };
  }

  private rows(after: number, limit: number): RawAuditRecord[] {
    if (limit <= 0) return [];
    return this.selectAfter.all(after, limit).map((row) => ({ sequence: row.sequence, recordedAt: row.recorded_at, kind: row.kind, body: row.body, hash: row.hash }));
  }

  private state(): AuditChainState {
    const head = this.selectHead.get() ?? { sequence: 0, hash: genesisHash };
    const broken = this.broken;
    return {
      head_sequence: head.sequence,
      head_hash: head.hash,
      verified_sequence: broken ? Math.min(this.verified.sequence, broken.sequence - 1) : this.verified.sequence,
      verified_ok: broken === undefined,
      broken_at: broken?.sequence ?? null,
      problem: broken?.problem ?? null,
      message: broken?.message ?? null,
    };
  }
}
