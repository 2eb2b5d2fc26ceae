// The inbound request ledger (MQTT): each acknowledged request kept until answered, so a crash loses none; no tokens kept; change hooks for a cluster replica.
import type { Principal } from "../core/types.js";
import type { SqliteDatabase } from "./database.js";

/** accepted: taken, not yet answered; recorded: its exchange is stored and its finish kept, not yet published; answered. */
export type LedgerState = "accepted" | "recorded" | "answered";

export interface LedgerEntry {
  /** The gateway's MQTT client id, so two MQTT gateways keep separate records. */
  gateway: string;
  /** Whose request it is: the verified token subject (with auth none, the request topic's client segment). */
  owner: string;
  requestId: string;
  /** The request frame as JSON, without its token. */
  request: string;
  /** The verified principal the request runs as; a resumed request runs as it without its token. */
  principal: Principal;
  /** When the principal's token stops being accepted (epoch ms); a request resumed after it is refused. */
  expiresAt?: number;
  replyTopic: string;
  correlationData?: Buffer;
}

export interface StoredLedgerEntry extends LedgerEntry {
  state: LedgerState;
  /** The finish frame (JSON) of a `recorded` request: published again, not generated again, when it is resumed. */
  finalFrame?: string;
  receivedAt: number;
}

interface LedgerRow {
  gateway: string;
  owner: string;
  request_id: string;
  request: string;
  principal: string;
  expires_at: number | null;
  reply_topic: string;
  correlation_data: Buffer | null;
  state: LedgerState;
  final_frame: string | null;
  received_at: number;
}

type Key = [gateway: string, owner: string, requestId: string];

/** The key of one record: whose request on which gateway. */
export interface LedgerKey {
  gateway: string;
  owner: string;
  requestId: string;
}

/**
 * One change of the ledger, as a replica (src/cluster/replicated-request-ledger.ts) sends it to the other nodes and
 * applies theirs: the same records on every node, so a new primary's MQTT gateway resumes and drops duplicates alike.
 */
export type LedgerChange =
  | { kind: "accepted"; entry: LedgerEntry; receivedAt: number }
  | { kind: "recorded"; key: LedgerKey; finalFrame: string }
  | { kind: "answered"; key: LedgerKey }
  | { kind: "forgotten"; key: LedgerKey }
  /** A data subject's records were erased (on the node that erased them: by the erasure itself). */
  | { kind: "erased"; owner: string };

/** Told of each local change right after it is written, possibly inside a transaction that may still roll back. */
export type LedgerListener = (change: LedgerChange) => void;

export class RequestLedger {
  private readonly insert;
  private readonly selectState;
  private readonly updateAnswered;
  private readonly updateRecorded;
  private readonly deleteOne;
  private readonly selectUnanswered;
  private readonly deleteAnswered;
  private readonly recordTransaction: (store: () => void, key: Key, finalFrame: string) => void;
  private readonly insertAnswered;
  private readonly deleteOwner;
  private readonly selectRecord;
  private readonly listeners = new Set<LedgerListener>();

  constructor(
    database: SqliteDatabase,
    private readonly now: () => number = Date.now,
  ) {
    this.insert = database.prepare<[string, string, string, string, string, number | null, string, Buffer | null, number]>(
      `INSERT OR IGNORE INTO mqtt_request_ledger (gateway, owner, request_id, request, principal, expires_at, reply_topic, correlation_data, state, received_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'accepted', ?)`,
    );
    const where = "WHERE gateway = ? AND owner = ? AND request_id = ?";
    this.selectState = database.prepare<Key, { state: LedgerState }>(`SELECT state FROM mqtt_request_ledger ${where}`);
    // Once answered, the request and its principal are no longer needed: only the key stays, for duplicates.
    this.updateAnswered = database.prepare<Key>(
      `UPDATE mqtt_request_ledger SET state = 'answered', request = '{}', principal = '{}', final_frame = NULL ${where}`,
    );
    this.updateRecorded = database.prepare<[string, ...Key]>(`UPDATE mqtt_request_ledger SET state = 'recorded', final_frame = ? ${where} AND state = 'accepted'`);
    this.deleteOne = database.prepare<Key>(`DELETE FROM mqtt_request_ledger ${where}`);
    this.selectUnanswered = database.prepare<[string], LedgerRow>(
      "SELECT * FROM mqtt_request_ledger WHERE gateway = ? AND state != 'answered' ORDER BY received_at, owner, request_id",
    );
    this.deleteAnswered = database.prepare<[string, number]>("DELETE FROM mqtt_request_ledger WHERE gateway = ? AND state = 'answered' AND received_at < ?");
    // An answer another node gave to a request this node never heard of (its acceptance was lost): kept for duplicates.
    this.insertAnswered = database.prepare<[...Key, number]>(
      `INSERT OR IGNORE INTO mqtt_request_ledger (gateway, owner, request_id, request, principal, reply_topic, state, received_at)
       VALUES (?, ?, ?, '{}', '{}', '', 'answered', ?)`,
    );
    this.deleteOwner = database.prepare<[string]>("DELETE FROM mqtt_request_ledger WHERE owner = ?");
    this.selectRecord = database.prepare<Key, { state: LedgerState; final_frame: string | null }>(`SELECT state, final_frame FROM mqtt_request_ledger ${where}`);
    this.recordTransaction = database.transaction((store: () => void, key: Key, finalFrame: string) => {
      store();
      this.updateRecorded.run(finalFrame, ...key);
    });
  }

  /** Records a request as accepted; false when a record of the same (gateway, owner, request id) already exists. */
  accept(entry: LedgerEntry): boolean {
    const receivedAt = this.now();
    const accepted = this.insertEntry(entry, receivedAt);
    if (accepted) this.notify({ kind: "accepted", entry, receivedAt });
    return accepted;
  }

  private insertEntry(entry: LedgerEntry, receivedAt: number): boolean {
    const { gateway, owner, requestId, request, principal, expiresAt, replyTopic, correlationData } = entry;
    const principalJson = JSON.stringify({ subject: principal.subject, roles: principal.roles, scopes: principal.scopes, claims: principal.claims });
    return this.insert.run(gateway, owner, requestId, request, principalJson, expiresAt ?? null, replyTopic, correlationData ?? null, receivedAt).changes === 1;
  }

  state(gateway: string, owner: string, requestId: string): LedgerState | undefined {
    return this.selectState.get(gateway, owner, requestId)?.state;
  }

  /**
   * Runs `store` (which writes the answer's exchange to the same database) and marks the request recorded, keeping
   * its finish frame, in one transaction: after a crash the exchange is stored exactly once and the finish is
   * published again rather than generated (and stored) again. Rolls back and rethrows when `store` throws.
   */
  record(gateway: string, owner: string, requestId: string, store: () => void, finalFrame: string): void {
    this.recordTransaction(store, [gateway, owner, requestId], finalFrame);
    this.notify({ kind: "recorded", key: { gateway, owner, requestId }, finalFrame });
  }

  markAnswered(gateway: string, owner: string, requestId: string): void {
    this.updateAnswered.run(gateway, owner, requestId);
    this.notify({ kind: "answered", key: { gateway, owner, requestId } });
  }

  /** Drops a record, so that the same request id may be sent again and run (it was refused as busy or not ready). */
  forget(gateway: string, owner: string, requestId: string): void {
    this.deleteOne.run(gateway, owner, requestId);
    this.notify({ kind: "forgotten", key: { gateway, owner, requestId } });
  }

  /** Whether a record is (still) in the state a change left it in: false once its transaction rolled back. */
  holds(change: LedgerChange): boolean {
    if (change.kind === "erased") return true;
    const key = "entry" in change ? change.entry : change.key;
    const row = this.selectRecord.get(key.gateway, key.owner, key.requestId);
    if (change.kind === "forgotten") return row === undefined;
    if (change.kind === "recorded") return row?.state === "recorded" && row.final_frame === change.finalFrame;
    if (change.kind === "answered") return row?.state === "answered";
    return row !== undefined;
  }

  /** Calls `listener` after each local change (not after `apply`); returns the unsubscribe. */
  onChange(listener: LedgerListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Writes another node's change to this ledger (listeners are not told: it is not this node's to send on). */
  apply(change: LedgerChange): void {
    if (change.kind === "accepted") {
      this.insertEntry(change.entry, change.receivedAt);
    } else if (change.kind === "recorded") {
      const { gateway, owner, requestId } = change.key;
      this.updateRecorded.run(change.finalFrame, gateway, owner, requestId);
    } else if (change.kind === "answered") {
      const { gateway, owner, requestId } = change.key;
      if (this.updateAnswered.run(gateway, owner, requestId).changes === 0) this.insertAnswered.run(gateway, owner, requestId, this.now());
    } else if (change.kind === "forgotten") {
      this.deleteOne.run(change.key.gateway, change.key.owner, change.key.requestId);
    } else {
      this.deleteOwner.run(change.owner);
    }
  }

  private notify(change: LedgerChange): void {
    for (const listener of this.listeners) listener(change);
  }

  /** This gateway's requests accepted or recorded but never answered (the process stopped mid-answer), oldest first. */
  unanswered(gateway: string): StoredLedgerEntry[] {
    return this.selectUnanswered.all(gateway).map((row) => ({
      gateway: row.gateway,
      owner: row.owner,
      requestId: row.request_id,
      request: row.request,
      principal: JSON.parse(row.principal) as Principal,
      ...(row.expires_at !== null ? { expiresAt: row.expires_at } : {}),
      replyTopic: row.reply_topic,
      ...(row.correlation_data ? { correlationData: row.correlation_data } : {}),
      state: row.state,
      ...(row.final_frame !== null ? { finalFrame: row.final_frame } : {}),
      receivedAt: row.received_at,
    }));
  }

  /** Deletes this gateway's answered records received more than `maxAgeMs` ago; returns how many. */
  prune(gateway: string, maxAgeMs: number): number {
    return this.deleteAnswered.run(gateway, this.now() - maxAgeMs).changes;
  }
}
