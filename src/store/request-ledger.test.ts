// The request ledger: insert-or-ignore acceptance, answered marks, per-gateway lists and pruning.
import { describe, expect, it } from "vitest";
import { openMemoryDatabase } from "./database.js";
import { RequestLedger } from "./request-ledger.js";

describe("RequestLedger", () => {
  const entry = (requestId: string, gateway = "gateway-a") => ({ gateway, client: "c1", requestId, payload: `{"id":"${requestId}"}`, replyTopic: "clawbot/res/c1" });

  it("accepts a request once, lists it until answered, and keeps gateways apart", () => {
    const ledger = new RequestLedger(openMemoryDatabase());
    expect(ledger.accept({ ...entry("r1"), correlationData: Buffer.from("corr") })).toBe(true);
    expect(ledger.accept(entry("r1"))).toBe(false);
    expect(ledger.accept(entry("r1", "gateway-b"))).toBe(true);
    expect(ledger.unanswered("gateway-a")).toMatchObject([{ requestId: "r1", state: "accepted", payload: '{"id":"r1"}', correlationData: Buffer.from("corr") }]);
    ledger.markAnswered("gateway-a", "c1", "r1");
    expect(ledger.state("gateway-a", "c1", "r1")).toBe("answered");
    expect(ledger.unanswered("gateway-a")).toEqual([]);
    expect(ledger.unanswered("gateway-b")).toHaveLength(1);
    ledger.forget("gateway-b", "c1", "r1");
    expect(ledger.state("gateway-b", "c1", "r1")).toBeUndefined();
  });

  it("prunes only answered requests older than the retention", () => {
    let now = 1_000_000;
    const ledger = new RequestLedger(openMemoryDatabase(), () => now);
    ledger.accept(entry("old-answered"));
    ledger.accept(entry("old-accepted"));
    ledger.markAnswered("gateway-a", "c1", "old-answered");
    now += 60_000;
    ledger.accept(entry("new-answered"));
    ledger.markAnswered("gateway-a", "c1", "new-answered");
    expect(ledger.prune("gateway-a", 30_000)).toBe(1);
    expect(ledger.state("gateway-a", "c1", "old-answered")).toBeUndefined();
    expect(ledger.state("gateway-a", "c1", "old-accepted")).toBe("accepted");
    expect(ledger.state("gateway-a", "c1", "new-answered")).toBe("answered");
  });
});
