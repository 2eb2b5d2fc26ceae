// Tests for the ledger: gapless chained appends, the in-memory head across commits and rollbacks, listeners, the table's guards.
import { describe, expect, it } from "vitest";
import { openMemoryDatabase, type SqliteDatabase } from "../store/database.js";
import { eraseText, genesisHash } from "./audit-canonical.js";
import { AuditLedger } from "./audit-ledger.js";
import { verifyChain, type RawAuditRecord } from "./audit-verify.js";

function rows(database: SqliteDatabase): RawAuditRecord[] {
  return (database.prepare("SELECT sequence, recorded_at AS recordedAt, kind, body, hash FROM audit_records ORDER BY sequence").all() as RawAuditRecord[]);
}

function count(database: SqliteDatabase): number {
  return (database.prepare("SELECT COUNT(*) AS n FROM audit_records").get() as { n: number }).n;
}

describe("AuditLedger", () => {
  it("numbers records 1, 2, 3… and chains each to the one before, from 64 zeros", () => {
    const database = openMemoryDatabase();
    let now = 1000;
    const ledger = new AuditLedger(database, () => (now += 1));
    expect(ledger.head()).toEqual({ sequence: 0, hash: genesisHash });
    const first = ledger.append("start", { node: "n1" });
    const second = ledger.append("request", { node: "n1", input: "hello", output: "hi" });
    expect([first.sequence, second.sequence]).toEqual([1, 2]);
    expect(ledger.head()).toEqual({ sequence: 2, hash: second.hash });
    expect(verifyChain(rows(database))).toMatchObject({ records: 2, head: { sequence: 2, hash: second.hash }, broken: undefined });
    expect(ledger.after(1, 10)).toEqual([{ sequence: 2, recordedAt: 1002, kind: "request", body: { node: "n1", input: "hello", output: "hi" }, hash: second.hash }]);
    expect(ledger.after(0, 1).map((record) => record.sequence)).toEqual([1]);
  });

  it("reads the head once at open and continues the chain of an existing table", () => {
    const database = openMemoryDatabase();
    new AuditLedger(database).append("start", { node: "n1" });
    const reopened = new AuditLedger(database);
    expect(reopened.head().sequence).toBe(1);
    reopened.append("stop", { node: "n1" });
    expect(verifyChain(rows(database)).broken).toBeUndefined();
  });

  it("rolls the head back with a transaction that rolls back: the next append (even at once, in the same tick) has no gap", () => {
    const database = openMemoryDatabase();
    const ledger = new AuditLedger(database);
    ledger.append("start", { node: "n1" });
    const failing = database.transaction(() => {
      ledger.append("request", { input: "rolled back" });
      throw new Error("the session store failed after the audit append");
    });
    expect(() => failing()).toThrow(/session store/);
    // What the pipeline does next, synchronously: the request's `failed` record.
    const next = ledger.append("request", { input: "the failure" });
    expect(next.sequence).toBe(2);
    expect(count(database)).toBe(2);
    expect(verifyChain(rows(database))).toMatchObject({ records: 2, broken: undefined });
  });

  it("keeps appends of a committed transaction, two in one included", () => {
    const database = openMemoryDatabase();
    const ledger = new AuditLedger(database);
    database.transaction(() => {
      ledger.append("request", { input: "a" });
      ledger.append("request", { input: "b" });
    })();
    expect(ledger.head().sequence).toBe(2);
    const rolledBack = database.transaction(() => {
      ledger.append("request", { input: "c" });
      ledger.append("request", { input: "d" });
      throw new Error("no");
    });
    expect(() => rolledBack()).toThrow("no");
    expect(ledger.head().sequence).toBe(2);
    expect(ledger.append("request", { input: "e" }).sequence).toBe(3);
    expect(verifyChain(rows(database))).toMatchObject({ records: 3, broken: undefined });
  });

  it("leaves the head as it was when the insert itself fails", () => {
    const database = openMemoryDatabase();
    const ledger = new AuditLedger(database);
    ledger.append("start", {});
    database.exec("CREATE TRIGGER refuse BEFORE INSERT ON audit_records BEGIN SELECT RAISE(ABORT, 'disk full'); END");
    expect(() => ledger.append("request", {})).toThrow(/disk full/);
    database.exec("DROP TRIGGER refuse");
    expect(ledger.append("request", {}).sequence).toBe(2);
    expect(verifyChain(rows(database)).broken).toBeUndefined();
  });

  it("tells listeners after the caller's transaction has ended, once per burst of appends", async () => {
    const database = openMemoryDatabase();
    const ledger = new AuditLedger(database);
    const seen: number[] = [];
    const unsubscribe = ledger.subscribe(() => seen.push(ledger.head().sequence));
    database.transaction(() => {
      ledger.append("request", { input: "a" });
      ledger.append("request", { input: "b" });
      expect(seen).toEqual([]);
    })();
    expect(seen).toEqual([]);
    await Promise.resolve();
    expect(seen).toEqual([2]);
    unsubscribe();
    ledger.append("stop", {});
    await Promise.resolve();
    expect(seen).toEqual([2]);
  });

  it("refuses deleting, renumbering, re-hashing and gaps, but lets a text be erased without breaking the chain", () => {
    const database = openMemoryDatabase();
    const ledger = new AuditLedger(database);
    ledger.append("request", { input: "my id card 110101199003077777", output: "ok" });
    ledger.append("request", { input: "second", output: "ok" });
    expect(() => database.exec("DELETE FROM audit_records WHERE sequence = 1")).toThrow(/append-only/);
    expect(() => database.exec("UPDATE audit_records SET hash = 'x' WHERE sequence = 1")).toThrow(/append-only/);
    expect(() => database.exec("UPDATE audit_records SET sequence = 9 WHERE sequence = 2")).toThrow(/append-only/);
    expect(() => database.exec("INSERT INTO audit_records VALUES (5, 0, 'request', '{}', 'x')")).toThrow(/without gaps/);
    const erased = JSON.stringify({ input: eraseText("my id card 110101199003077777"), output: "ok" });
    database.prepare("UPDATE audit_records SET body = ? WHERE sequence = 1").run(erased);
    expect(verifyChain(rows(database))).toMatchObject({ records: 2, erasedTexts: 1, broken: undefined });
  });
});
