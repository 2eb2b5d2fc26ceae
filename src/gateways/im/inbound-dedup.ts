// Retried platform deliveries answered once: the node's request ledger (survives a restart), else a bounded in-memory LRU with a TTL.
import type { Principal } from "../../core/types.js";
import type { RequestLedger } from "../../store/request-ledger.js";

export interface DedupEntry {
  /** The sender's subject: the ledger's owner column, so erasing a subject erases its pending messages too. */
  owner: string;
  messageId: string;
  /** The inbound message as JSON (kept until answered, for an operator reading the ledger). */
  request: string;
  /** Where the answer goes, as JSON when it serialises, else "". */
  replyTopic: string;
  principal: Principal;
}

export interface InboundDedupOptions {
  /** The ledger's gateway key (`im:<platform>`), apart from the MQTT gateways' records. */
  gateway: string;
  ledger?: RequestLedger;
  /** In-memory only: how many ids are kept, and for how long (the platforms retry within minutes). */
  capacity?: number;
  ttlMs?: number;
  now?: () => number;
}

export class InboundDedup {
  /** id → when it was seen; insertion order is age order (a Map iterates oldest first). */
  private readonly seen = new Map<string, number>();
  private readonly capacity: number;
  private readonly ttlMs: number;
  private readonly now: () => number;

  constructor(private readonly options: InboundDedupOptions) {
    this.capacity = options.capacity ?? 10_000;
    this.ttlMs = options.ttlMs ?? 24 * 3600_000;
    this.now = options.now ?? Date.now;
  }

  /** Takes a message id: false when it was already taken (a retried delivery, a replay). */
  accept(entry: DedupEntry): boolean {
    const { ledger, gateway } = this.options;
    if (ledger) return ledger.accept({ gateway, owner: entry.owner, requestId: entry.messageId, request: entry.request, principal: entry.principal, replyTopic: entry.replyTopic });
    const now = this.now();
    this.evictExpired(now);
    if (this.seen.has(entry.messageId)) return false;
    // Full: the oldest id makes room (a Map iterates in insertion order).
    if (this.seen.size >= this.capacity) this.seen.delete(this.seen.keys().next().value as string);
    this.seen.set(entry.messageId, now);
    return true;
  }

  /** The answer went out (or was given up): the ledger keeps only the key, for duplicates. */
  markAnswered(owner: string, messageId: string): void {
    this.options.ledger?.markAnswered(this.options.gateway, owner, messageId);
  }

  /** Answered records older than this are deleted from the ledger (the platforms never retry that late). */
  prune(maxAgeMs: number): void {
    this.options.ledger?.prune(this.options.gateway, maxAgeMs);
  }

  private evictExpired(now: number): void {
    for (const [id, seenAt] of this.seen) {
      if (now - seenAt < this.ttlMs) break;
      this.seen.delete(id);
    }
  }
}
