// Tests for erasing a subject's texts in the ledger: the right records change, only their texts, and the chain still verifies.
import { describe, expect, it } from "vitest";
import { openMemoryDatabase } from "../store/database.js";
import { eraseText, sm3Hex } from "./audit-canonical.js";
import { auditRows } from "./audit-database.js";
import { eraseSubjectTexts } from "./audit-erasure.js";
import { AuditLedger } from "./audit-ledger.js";
import { verifyChain } from "./audit-verify.js";

describe("eraseSubjectTexts", () => {
  it("replaces every text of the subject's records (by subject, by digest, or as `by`) and leaves the others", () => {
    const database = openMemoryDatabase();
    const ledger = new AuditLedger(database);
    ledger.append("request", { node: "n", subject: "alice", session: "s1", input: "alice's question", output: "an answer", error_message: null, tokens: { prompt: 3 } });
    ledger.append("request", { node: "n", subject: "bob", session: "s2", input: "bob's question", output: "bob's answer" });
    ledger.append("token_revocation", { node: "n", by: "alice", jti: "t-1" });
    // Written with audit.content: hash and a subject already erased: its remaining texts still go.
    ledger.append("request", { node: "n", subject: eraseText("alice"), session: "s3", input: eraseText("q"), output: "left over" });
    // Another subject whose texts merely mention alice is not hers.
    ledger.append("request", { node: "n", subject: "carol", input: 'she said "alice" twice', output: "ok" });

    expect(eraseSubjectTexts(database, "alice")).toBe(3);
    const bodies = [...auditRows(database)].map((row) => JSON.parse(row.body) as Record<string, unknown>);
    expect(bodies[0]).toEqual({ node: "n", subject: eraseText("alice"), session: eraseText("s1"), input: eraseText("alice's question"), output: eraseText("an answer"), error_message: null, tokens: { prompt: 3 } });
    expect(bodies[1]).toMatchObject({ subject: "bob", input: "bob's question" });
    expect(bodies[2]).toEqual({ node: "n", by: eraseText("alice"), jti: "t-1" });
    expect(bodies[3]).toMatchObject({ subject: { sm3: sm3Hex("alice") }, output: eraseText("left over") });
    expect(bodies[4]).toMatchObject({ subject: "carol", input: 'she said "alice" twice' });

    const summary = verifyChain(auditRows(database));
    expect(summary.broken).toBeUndefined();
    expect(summary.records).toBe(5);
    // Erasing again changes nothing.
    expect(eraseSubjectTexts(database, "alice")).toBe(0);
  });
});
