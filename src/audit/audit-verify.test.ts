// Tests for chain verification: each kind of tampering is named at the right sequence.
import { describe, expect, it } from "vitest";
import { chainHash, genesisHash } from "./audit-canonical.js";
import { verifyChain, type RawAuditRecord } from "./audit-verify.js";

/** A valid chain of n records. */
function chain(n: number): RawAuditRecord[] {
  const records: RawAuditRecord[] = [];
  let previous = genesisHash;
  for (let sequence = 1; sequence <= n; sequence += 1) {
    const body = { node: "n1", input: `question ${sequence}`, output: `answer ${sequence}` };
    const hash = chainHash(previous, { sequence, recordedAt: 1000 + sequence, kind: "request", body });
    records.push({ sequence, recordedAt: 1000 + sequence, kind: "request", body: JSON.stringify(body), hash });
    previous = hash;
  }
  return records;
}

describe("verifyChain", () => {
  it("passes an intact chain and sums it up", () => {
    const records = chain(5);
    expect(verifyChain(records)).toEqual({ records: 5, head: { sequence: 5, hash: records[4]!.hash }, firstAt: 1001, lastAt: 1005, erasedTexts: 0, broken: undefined });
    expect(verifyChain([])).toMatchObject({ records: 0, head: { sequence: 0, hash: genesisHash }, broken: undefined });
  });

  it("names a record whose text changed by one byte", () => {
    const records = chain(5);
    records[2] = { ...records[2]!, body: records[2]!.body.replace("question 3", "question 4") };
    expect(verifyChain(records)).toMatchObject({ records: 2, broken: { sequence: 3, problem: "changed" } });
  });

  it("names a record whose time or kind changed", () => {
    const records = chain(4);
    expect(verifyChain(records.map((record) => (record.sequence === 2 ? { ...record, recordedAt: 1 } : record))).broken).toMatchObject({ sequence: 2, problem: "changed" });
    expect(verifyChain(records.map((record) => (record.sequence === 4 ? { ...record, kind: "stop" } : record))).broken).toMatchObject({ sequence: 4, problem: "changed" });
  });

  it("names a deleted record as missing", () => {
    const records = chain(5).filter((record) => record.sequence !== 3);
    expect(verifyChain(records).broken).toMatchObject({ sequence: 3, problem: "missing", message: expect.stringContaining("record 3 is missing") });
    expect(verifyChain(chain(5).filter((record) => record.sequence !== 1)).broken).toMatchObject({ sequence: 1, problem: "missing" });
  });

  it("names records swapped with their hashes (renumbered to fit) at the first of them", () => {
    const records = chain(5);
    const [second, fourth] = [records[1]!, records[3]!];
    records[1] = { ...fourth, sequence: 2 };
    records[3] = { ...second, sequence: 4 };
    expect(verifyChain(records).broken).toMatchObject({ sequence: 2, problem: "changed" });
  });

  it("names a duplicated or reordered sequence (an export file)", () => {
    const records = chain(4);
    expect(verifyChain([records[0]!, records[1]!, records[1]!, records[2]!]).broken).toMatchObject({ sequence: 2, problem: "out_of_order" });
    expect(verifyChain([records[0]!, records[2]!, records[1]!]).broken).toMatchObject({ sequence: 2, problem: "missing" });
  });

  it("names a forged record inserted in the middle (the later ones renumbered) and one appended at the end", () => {
    const records = chain(4);
    const forged: RawAuditRecord = { sequence: 3, recordedAt: 1003, kind: "request", body: JSON.stringify({ input: "never asked" }), hash: records[2]!.hash };
    const inserted = [records[0]!, records[1]!, forged, ...records.slice(2).map((record) => ({ ...record, sequence: record.sequence + 1 }))];
    expect(verifyChain(inserted).broken).toMatchObject({ sequence: 3, problem: "changed" });
    const appended = [...records, { ...forged, sequence: 5, hash: "f".repeat(64) }];
    expect(verifyChain(appended).broken).toMatchObject({ sequence: 5, problem: "changed" });
  });

  it("names an unreadable body", () => {
    const records = chain(2);
    records[1] = { ...records[1]!, body: "{not json" };
    expect(verifyChain(records).broken).toMatchObject({ sequence: 2, problem: "unreadable" });
    records[1] = { ...records[1]!, body: JSON.stringify({ input: 42 }) };
    expect(verifyChain(records).broken).toMatchObject({ sequence: 2, problem: "unreadable" });
  });

  it("names a cut tail when the table once held more", () => {
    expect(verifyChain(chain(3), { highestEver: 3 }).broken).toBeUndefined();
    expect(verifyChain(chain(3), { highestEver: 5 }).broken).toMatchObject({ sequence: 4, problem: "truncated", message: expect.stringContaining("records 4–5") });
  });

  it("verifies a slice from the hash it chains from", () => {
    const records = chain(6);
    expect(verifyChain(records.slice(3), { startSequence: 4, startHash: records[2]!.hash })).toMatchObject({ records: 3, broken: undefined });
    expect(verifyChain(records.slice(3), { startSequence: 4, startHash: records[1]!.hash }).broken).toMatchObject({ sequence: 4, problem: "changed" });
  });
});
