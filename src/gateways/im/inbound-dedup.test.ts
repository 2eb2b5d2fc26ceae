// InboundDedup: the request ledger (survives a reopen of the database) or a bounded in-memory LRU with a TTL.
import { describe, expect, it } from "vitest";
import { openMemoryDatabase } from "../../store/database.js";
import { RequestLedger } from "../../store/request-ledger.js";
import { InboundDedup } from "./inbound-dedup.js";

const principal = { subject: "alice", roles: ["user"], scopes: [], claims: {} };
const entry = (messageId: string, owner = "alice") => ({ owner, messageId, request: "{}", replyTopic: "", principal });

describe("InboundDedup", () => {
  it("takes each message id once through the ledger, per gateway, and marks it answered", () => {
    const ledger = new RequestLedger(openMemoryDatabase());
    const dedup = new InboundDedup({ gateway: "wecom:a", ledger });
    expect(dedup.accept(entry("m1"))).toBe(true);
    expect(dedup.accept(entry("m1"))).toBe(false);
    expect(new InboundDedup({ gateway: "wecom:b", ledger }).accept(entry("m1"))).toBe(true);
    expect(ledger.unanswered("wecom:a").map((stored) => stored.requestId)).toEqual(["m1"]);
    dedup.markAnswered("alice", "m1");
    expect(ledger.unanswered("wecom:a")).toEqual([]);
    expect(dedup.accept(entry("m1"))).toBe(false);
  });

  it("without a ledger: remembers ids for the TTL, and at most `capacity` of them (oldest dropped)", () => {
    let now = 0;
    const dedup = new InboundDedup({ gateway: "g", capacity: 3, ttlMs: 1000, now: () => now });
    for (const id of ["a", "b", "c"]) expect(dedup.accept(entry(id))).toBe(true);
    expect(dedup.accept(entry("a"))).toBe(false);
    expect(dedup.accept(entry("d"))).toBe(true); // "a" is dropped: the capacity is 3
    expect(dedup.accept(entry("a"))).toBe(true);
    expect(dedup.accept(entry("d"))).toBe(false);
    now = 1000;
    expect(dedup.accept(entry("d"))).toBe(true);
  });
});
