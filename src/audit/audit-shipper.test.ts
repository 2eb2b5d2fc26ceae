// The shipper against an in-memory ledger and a scripted sink: order, durable cursors, outages, lost connections, checkpoints.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { silentLogger } from "../logging/logger.js";
import { openDatabase, type SqliteDatabase } from "../store/database.js";
import type { AuditCheckpoint, AuditHead, AuditSource, StoredAuditRecord } from "./audit-record.js";
import { AuditShipper } from "./audit-shipper.js";
import type { AuditSink } from "./sinks/audit-sink.js";
import { SinkCursors } from "./sinks/sink-cursors.js";

class MemorySource implements AuditSource {
  readonly records: StoredAuditRecord[] = [];
  private readonly listeners = new Set<() => void>();
  append(count = 1): void {
    for (let index = 0; index < count; index++) {
      const sequence = this.records.length + 1;
      this.records.push({ sequence, recordedAt: Date.now(), kind: "request", body: { n: sequence }, hash: sequence.toString(16).padStart(64, "0") });
    }
    for (const listener of this.listeners) listener();
  }
  after(sequence: number, limit: number): StoredAuditRecord[] {
    return this.records.filter((record) => record.sequence > sequence).slice(0, limit);
  }
  head(): AuditHead {
    const last = this.records.at(-1);
    return { sequence: last?.sequence ?? 0, hash: last?.hash ?? "0".repeat(64) };
  }
  subscribe(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}

/** A sink that records what arrives; it can fail the next sends, or confirm only when told (like syslog over TCP). */
class ScriptedSink implements AuditSink {
  readonly type = "http";
  readonly destination = "scripted";
  readonly batchSize = 3;
  /** Sequences in the order they arrived; checkpoints as "c<sequence>". */
  readonly arrived: (number | string)[] = [];
  failNext = 0;
  alwaysFail = false;
  sends = 0;
  private confirmedSequence = 0;
  private unconfirmed: number[] = [];
  private loss: Error | undefined;
  notify: () => void = () => undefined;

  constructor(private readonly confirmsOnSend = true) {}

  async send(records: StoredAuditRecord[]): Promise<void> {
    this.sends++;
    await new Promise((resolve) => setTimeout(resolve, 1));
    if (this.alwaysFail || this.failNext > 0) {
      this.failNext = Math.max(0, this.failNext - 1);
      throw new Error("receiver down");
    }
    this.arrived.push(...records.map((record) => record.sequence));
    const last = (records.at(-1) as StoredAuditRecord).sequence;
    if (this.confirmsOnSend) this.confirmedSequence = last;
    else this.unconfirmed.push(last);
  }
  async sendCheckpoint(checkpoint: AuditCheckpoint): Promise<void> {
    this.arrived.push(`c${checkpoint.sequence}`);
  }
  confirmed(): number {
    return this.confirmedSequence;
  }
  pendingConfirmationMs(): number | undefined {
    return undefined;
  }
  takeLoss(): Error | undefined {
    const loss = this.loss;
    this.loss = undefined;
    return loss;
  }
  async close(): Promise<void> {}
  /** The receiver now surely holds everything up to `sequence`. */
  confirmUpTo(sequence: number): void {
    this.confirmedSequence = sequence;
    this.unconfirmed = this.unconfirmed.filter((last) => last > sequence);
    this.notify();
  }
  /** The connection dropped: whatever was not confirmed may be gone. */
  dropConnection(): void {
    this.unconfirmed = [];
    this.loss = new Error("connection reset");
    this.notify();
  }
}

const cleanups: (() => void | Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

function database(): SqliteDatabase {
  const directory = fs.mkdtempSync(path.join(os.tmpdir(), "clawbot-shipper-"));
  const opened = openDatabase(directory);
  cleanups.push(() => fs.rmSync(directory, { recursive: true, force: true }), () => void opened.close());
  return opened;
}

function ship(source: AuditSource, sink: ScriptedSink, db: SqliteDatabase, name = "scripted"): AuditShipper {
  const shipper = new AuditShipper({ name, sink, source, cursors: new SinkCursors(db), logger: silentLogger, retry: { initialMs: 5, maxMs: 20 }, closeWaitMs: 500 });
  sink.notify = () => shipper.wake();
  cleanups.push(() => shipper.close());
  return shipper;
}

async function until(condition: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

function storedCursor(db: SqliteDatabase, name: string): number | undefined {
  return (db.prepare("SELECT sequence FROM audit_sink_cursors WHERE sink = ?").get(name) as { sequence: number } | undefined)?.sequence;
}

describe("audit shipper", () => {
  it("ships every record in order, stores its cursor, and a new shipper resumes after the cursor", async () => {
    const db = database();
    const source = new MemorySource();
    source.append(7);
    const sink = new ScriptedSink();
    const shipper = ship(source, sink, db);
    await until(() => shipper.status().cursor === 7, "the first 7 records");
    expect(sink.arrived).toEqual([1, 2, 3, 4, 5, 6, 7]);
    expect(storedCursor(db, "scripted")).toBe(7);
    expect(shipper.status()).toMatchObject({ name: "scripted", type: "http", cursor: 7, backlog: 0, up: true, shipped: 7, failures: 0 });
    await shipper.close();

    source.append(2);
    const next = new ScriptedSink();
    const resumed = ship(source, next, db);
    expect(resumed.status()).toMatchObject({ cursor: 7, backlog: 2 });
    await until(() => resumed.status().cursor === 9, "records 8 and 9");
    expect(next.arrived).toEqual([8, 9]);
  });

  it("keeps the backlog while the sink is down and catches up in order, skipping nothing", async () => {
    const db = database();
    const source = new MemorySource();
    const sink = new ScriptedSink();
    sink.alwaysFail = true;
    const shipper = ship(source, sink, db);
    source.append(5);
    await until(() => shipper.status().failures >= 3, "three failed attempts");
    expect(shipper.status()).toMatchObject({ cursor: 0, backlog: 5, up: false, lastError: "receiver down" });
    source.append(5);
    sink.alwaysFail = false;
    sink.failNext = 1;
    await until(() => shipper.status().cursor === 10, "the backlog to ship");
    expect(sink.arrived).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    expect(shipper.status()).toMatchObject({ up: true, backlog: 0, shipped: 10 });
    expect(storedCursor(db, "scripted")).toBe(10);
  });

  it("moves the cursor only over confirmed records, and resends the unconfirmed ones after a dropped connection", async () => {
    const db = database();
    const source = new MemorySource();
    const sink = new ScriptedSink(false);
    const shipper = ship(source, sink, db);
    source.append(6);
    await until(() => sink.arrived.length === 6, "6 records sent");
    expect(shipper.status().cursor).toBe(0);
    sink.confirmUpTo(3);
    await until(() => shipper.status().cursor === 3, "the cursor to follow the confirmation");
    expect(storedCursor(db, "scripted")).toBe(3);
    sink.dropConnection();
    await until(() => sink.arrived.length === 9, "the unconfirmed records again");
    expect(sink.arrived).toEqual([1, 2, 3, 4, 5, 6, 4, 5, 6]);
    expect(shipper.status().failures).toBe(1);
    sink.confirmUpTo(6);
    await until(() => storedCursor(db, "scripted") === 6, "the cursor to reach 6");
  });

  it("sends a checkpoint once the records up to it have gone out", async () => {
    const db = database();
    const source = new MemorySource();
    const sink = new ScriptedSink();
    sink.failNext = 2;
    const shipper = ship(source, sink, db);
    source.append(4);
    shipper.checkpoint({ sequence: 4, hash: source.head().hash, nodeId: "n", at: Date.now() });
    await until(() => sink.arrived.includes("c4"), "the checkpoint");
    expect(sink.arrived).toEqual([1, 2, 3, 4, "c4"]);
  });

  it("closes without waiting for a sink that stays down, and sends nothing after", async () => {
    const db = database();
    const source = new MemorySource();
    const sink = new ScriptedSink();
    sink.alwaysFail = true;
    const shipper = ship(source, sink, db);
    source.append(3);
    await until(() => shipper.status().failures >= 2, "two failures");
    await shipper.close();
    const sends = sink.sends;
    source.append(3);
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(sink.sends).toBe(sends);
    expect(storedCursor(db, "scripted")).toBeUndefined();
  });

  it("ships a ledger shorter than the stored cursor from its first record (another chain)", async () => {
    const db = database();
    new SinkCursors(db).advance("scripted", 50);
    const source = new MemorySource();
    source.append(3);
    const sink = new ScriptedSink();
    const shipper = ship(source, sink, db);
    await until(() => shipper.status().cursor === 3, "the 3 records");
    expect(sink.arrived).toEqual([1, 2, 3]);
    expect(storedCursor(db, "scripted")).toBe(3);
  });
});
