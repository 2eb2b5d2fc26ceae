// The MQTT gateway's durable record of requests it has acknowledged: accepted until answered, so a crash loses none.
import type { SqliteDatabase } from "./database.js";

export type LedgerState = "accepted" | "answered";

export interface LedgerEntry {
  /** The gateway's MQTT client id, so two MQTT gateways keep separate records. */
  gateway: string;
  /** The requesting client (from the request topic; "" when the topic names none). */
  client: string;
  requestId: string;
  /** The original request JSON. */
  payload: string;
  replyTopic: string;
  correlationData?: Buffer;
}

export interface StoredLedgerEntry extends LedgerEntry {
  state: LedgerState;
  receivedAt: number;
}

interface LedgerRow {
  gateway: string;
  client: string;
  request_id: string;
  payload: string;
  reply_topic: string;
  correlation_data: Buffer | null;
  state: LedgerState;
  received_at: number;
}

export class RequestLedger {
  private readonly insert;
  private readonly selectState;
  private readonly updateState;
  private readonly deleteOne;
  private readonly selectAccepted;
  private readonly deleteAnswered;

  constructor(
    database: SqliteDatabase,
    private readonly now: () => number = Date.now,
  ) {
    this.insert = database.prepare<[string, string, string, string, string, Buffer | null, number]>(
      `INSERT OR IGNORE INTO mqtt_requests (gateway, client, request_id, payload, reply_topic, correlation_data, state, received_at)
       VALUES (?, ?, ?, ?, ?, ?, 'accepted', ?)`,
    );
    this.selectState = database.prepare<[string, string, string], { state: LedgerState }>(
      "SELECT state FROM mqtt_requests WHERE gateway = ? AND client = ? AND request_id = ?",
    );
    this.updateState = database.prepare<[string, string, string]>(
      "UPDATE mqtt_requests SET state = 'answered' WHERE gateway = ? AND client = ? AND request_id = ?",
    );
    this.deleteOne = database.prepare<[string, string, string]>("DELETE FROM mqtt_requests WHERE gateway = ? AND client = ? AND request_id = ?");
    this.selectAccepted = database.prepare<[string], LedgerRow>(
      "SELECT * FROM mqtt_requests WHERE gateway = ? AND state = 'accepted' ORDER BY received_at, client, request_id",
    );
    this.deleteAnswered = database.prepare<[string, number]>("DELETE FROM mqtt_requests WHERE gateway = ? AND state = 'answered' AND received_at < ?");
  }

  /** Records a request as accepted; false when a record of the same (gateway, client, request id) already exists. */
  accept(entry: LedgerEntry): boolean {
    const { gateway, client, requestId, payload, replyTopic, correlationData } = entry;
    return this.insert.run(gateway, client, requestId, payload, replyTopic, correlationData ?? null, this.now()).changes === 1;
  }

  state(gateway: string, client: string, requestId: string): LedgerState | undefined {
    return this.selectState.get(gateway, client, requestId)?.state;
  }

  markAnswered(gateway: string, client: string, requestId: string): void {
    this.updateState.run(gateway, client, requestId);
  }

  /** Drops a record, so that the same request id may be sent again and run (it was refused as busy or not ready). */
  forget(gateway: string, client: string, requestId: string): void {
    this.deleteOne.run(gateway, client, requestId);
  }

  /** This gateway's requests accepted but never answered (the process stopped mid-answer), oldest first. */
  unanswered(gateway: string): StoredLedgerEntry[] {
    return this.selectAccepted.all(gateway).map((row) => ({
      gateway: row.gateway,
      client: row.client,
      requestId: row.request_id,
      payload: row.payload,
      replyTopic: row.reply_topic,
      ...(row.correlation_data ? { correlationData: row.correlation_data } : {}),
      state: row.state,
      receivedAt: row.received_at,
    }));
  }

  /** Deletes this gateway's answered records received more than `maxAgeMs` ago; returns how many. */
  prune(gateway: string, maxAgeMs: number): number {
    return this.deleteAnswered.run(gateway, this.now() - maxAgeMs).changes;
  }
}
