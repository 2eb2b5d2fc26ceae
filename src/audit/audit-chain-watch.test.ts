// Tests for the console's audit check: bounded slices up to the head, a change found by the re-reading sweep, a chain rewritten whole.
import { describe, expect, it } from "vitest";
import { chainHash } from "./audit-canonical.js";
import { AuditChainWatch } from "./audit-chain-watch.js";
import { AuditLedger } from "./audit-ledger.js";
import { openMemoryDatabase, type SqliteDatabase } from "../store/database.js";

function ledgerOf(records: number): { database: SqliteDatabase; ledger: AuditLedger } {
  const database = openMemoryDatabase();
  const ledger = new AuditLedger(database);
  for (let index = 0; index < records; index += 1) ledger.append("request", { node: "n1", input: `question ${index}`, output: `answer ${index}` });
  return { database, ledger };
}

describe("AuditChainWatch", () => {
  it("verifies at most its budget per check, reaching the head and following new records", () => {
    const { database, ledger } = ledgerOf(10);
    const watch = new AuditChainWatch(database, 4);
    expect(watch.check()).toMatchObject({ head_sequence: 10, verified_sequence: 4, verified_ok: true, broken_at: null });
    expect(watch.check().verified_sequence).toBe(8);
    const caughtUp = watch.check();
    expect(caughtUp).toMatchObject({ verified_sequence: 10, head_hash: ledger.head().hash });
    ledger.append("stop", { node: "n1" });
    expect(watch.check()).toMatchObject({ head_sequence: 11, verified_sequence: 11, verified_ok: true });
  });

  it("finds a record changed after it was verified, on a later sweep from record 1", () => {
    const { database } = ledgerOf(6);
    const watch = new AuditChainWatch(database, 4);
    watch.check();
    watch.check();
    expect(watch.check().verified_sequence).toBe(6);
    database.prepare("UPDATE audit_records SET body = replace(body, 'answer 1', 'answer X') WHERE sequence = 2").run();
    let state = watch.check();
    for (let round = 0; round < 5 && state.verified_ok; round += 1) state = watch.check();
    expect(state).toMatchObject({ verified_ok: false, broken_at: 2, problem: "changed", verified_sequence: 1 });
    // A break stays reported.
    expect(watch.check().broken_at).toBe(2);
  });

  it("names a chain whose hashes were all recomputed after a change (it no longer ends where it was verified)", () => {
    const { database } = ledgerOf(3);
    const watch = new AuditChainWatch(database, 100);
    expect(watch.check().verified_sequence).toBe(3);
    // An attacker with the file rewrites record 2 and recomputes every hash after it (triggers dropped).
    for (const trigger of ["audit_records_no_delete", "audit_records_no_rewrite", "audit_records_no_gap"]) database.exec(`DROP TRIGGER IF EXISTS ${trigger}`);
    const rows = database.prepare("SELECT sequence, recorded_at, kind, body, hash FROM audit_records ORDER BY sequence").all() as { sequence: number; recorded_at: number; kind: string; body: string; hash: string }[];
    let previous = rows[0]!.hash;
    for (const row of rows.slice(1)) {
      const body = JSON.parse(row.body.replace("answer", "forged")) as Record<string, unknown>;
      const hash = chainHash(previous, { sequence: row.sequence, recordedAt: row.recorded_at, kind: row.kind, body });
      database.prepare("UPDATE audit_records SET body = ?, hash = ? WHERE sequence = ?").run(JSON.stringify(body), hash, row.sequence);
      previous = hash;
    }
    expect(watch.check()).toMatchObject({ verified_ok: false, broken_at: 3, problem: "changed" });
  });

  it("says a cut tail is truncated", () => {
    const { database } = ledgerOf(4);
    database.exec("DROP TRIGGER IF EXISTS audit_records_no_delete");
    database.exec("DELETE FROM audit_records WHERE sequence = 4");
    expect(new AuditChainWatch(database).check()).toMatchObject({ verified_ok: false, broken_at: 4, problem: "truncated", verified_sequence: 3 });
  });
});
