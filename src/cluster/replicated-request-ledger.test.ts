// The request ledger's replication pieces without NATS: change hooks, applying another node's changes, the wire format (fast-check).
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { openMemoryDatabase } from "../store/database.js";
import { RequestLedger, type LedgerChange } from "../store/request-ledger.js";
import { decodeEnvelope } from "./replication-log.js";
import { fromWire, ledgerChangeSchema, toWire } from "./replicated-request-ledger.js";

const principal = { subject: "alice", roles: ["user"], scopes: ["chat"], claims: { sub: "alice", exp: 2_000_000_000 } };
const entry = (requestId: string, owner = "alice") => ({
  gateway: "clawbot-mqtt",
  owner,
  requestId,
  request: `{"type":"chat","id":"${requestId}","message":"hi"}`,
  principal,
  expiresAt: 2_000_000_000_000,
  replyTopic: `clawbot/res/${owner}`,
  correlationData: Buffer.from([0, 1, 254, 255]),
});
const decode = (value: unknown) => ledgerChangeSchema.parse(value);
const encode = (value: unknown) => new TextEncoder().encode(JSON.stringify(value));

describe("RequestLedger change hooks", () => {
  it("tells listeners of each local change, not of applied ones, and `holds` tells a rolled-back record apart", () => {
    const database = openMemoryDatabase();
    const ledger = new RequestLedger(database, () => 1_000);
    const changes: LedgerChange[] = [];
    ledger.onChange((change) => changes.push(change));
    expect(ledger.accept(entry("r1"))).toBe(true);
    expect(ledger.accept(entry("r1"))).toBe(false);
    ledger.accept(entry("r2"));
    // Recorded inside an outer transaction that rolls back (the audit record failed): told, but no longer held.
    expect(() =>
      database.transaction(() => {
        ledger.record("clawbot-mqtt", "alice", "r1", () => undefined, '{"type":"finish"}');
        throw new Error("audit failed");
      })(),
    ).toThrow("audit failed");
    ledger.record("clawbot-mqtt", "alice", "r2", () => undefined, '{"type":"finish","id":"r2"}');
    ledger.markAnswered("clawbot-mqtt", "alice", "r2");
    ledger.forget("clawbot-mqtt", "alice", "r1");
    expect(changes.map((change) => change.kind)).toEqual(["accepted", "accepted", "recorded", "recorded", "answered", "forgotten"]);
    expect(changes[0]).toMatchObject({ kind: "accepted", receivedAt: 1_000, entry: { requestId: "r1" } });
    expect(ledger.holds(changes[2] as LedgerChange)).toBe(false);
    expect(ledger.holds(changes[3] as LedgerChange)).toBe(false); // answered since
    expect(ledger.holds(changes[4] as LedgerChange)).toBe(true);
    expect(ledger.holds(changes[5] as LedgerChange)).toBe(true);

    ledger.apply({ kind: "accepted", entry: entry("r3"), receivedAt: 5 });
    expect(changes).toHaveLength(6);
  });

  it("applies another node's accepted, recorded, answered, forgotten and erased changes", () => {
    const ledger = new RequestLedger(openMemoryDatabase(), () => 9_000);
    const key = (requestId: string, owner = "alice") => ({ gateway: "clawbot-mqtt", owner, requestId });
    ledger.apply({ kind: "accepted", entry: entry("r1"), receivedAt: 5 });
    ledger.apply({ kind: "accepted", entry: entry("r2"), receivedAt: 6 });
    ledger.apply({ kind: "accepted", entry: entry("r1", "bob"), receivedAt: 7 });
    expect(ledger.unanswered("clawbot-mqtt")).toMatchObject([
      { requestId: "r1", owner: "alice", state: "accepted", receivedAt: 5, principal, correlationData: Buffer.from([0, 1, 254, 255]) },
      { requestId: "r2", owner: "alice", receivedAt: 6 },
      { requestId: "r1", owner: "bob" },
    ]);
    ledger.apply({ kind: "recorded", key: key("r1"), finalFrame: '{"type":"finish","id":"r1"}' });
    expect(ledger.unanswered("clawbot-mqtt")[0]).toMatchObject({ state: "recorded", finalFrame: '{"type":"finish","id":"r1"}' });
    ledger.apply({ kind: "answered", key: key("r1") });
    expect(ledger.state("clawbot-mqtt", "alice", "r1")).toBe("answered");
    // An answer to a request whose acceptance never arrived is still kept, so its duplicate is dropped.
    ledger.apply({ kind: "answered", key: key("never-seen") });
    expect(ledger.state("clawbot-mqtt", "alice", "never-seen")).toBe("answered");
    // A late acceptance does not reopen an answered request.
    ledger.apply({ kind: "accepted", entry: entry("never-seen"), receivedAt: 8 });
    expect(ledger.state("clawbot-mqtt", "alice", "never-seen")).toBe("answered");
    ledger.apply({ kind: "forgotten", key: key("r2") });
    expect(ledger.state("clawbot-mqtt", "alice", "r2")).toBeUndefined();
    ledger.apply({ kind: "erased", owner: "alice" });
    expect(ledger.state("clawbot-mqtt", "alice", "r1")).toBeUndefined();
    expect(ledger.unanswered("clawbot-mqtt").map((stored) => stored.owner)).toEqual(["bob"]);
  });
});

describe("the ledger's wire format", () => {
  const text = fc.string({ minLength: 1, maxLength: 40 });
  // zod drops a "__proto__" claim (it guards against prototype pollution): no real token carries one.
  const claimName = fc.string().filter((name) => name !== "__proto__");
  const key = fc.record({ gateway: text, owner: text, requestId: fc.string({ minLength: 1, maxLength: 128 }) });
  const change: fc.Arbitrary<LedgerChange> = fc.oneof(
    fc.record({
      kind: fc.constant("accepted" as const),
      entry: fc.record(
        {
          gateway: text,
          owner: text,
          requestId: text,
          request: fc.string(),
          principal: fc.record({ subject: fc.string(), roles: fc.array(fc.string()), scopes: fc.array(fc.string()), claims: fc.dictionary(claimName, fc.jsonValue()) }),
          expiresAt: fc.nat(),
          replyTopic: text,
          correlationData: fc.uint8Array({ minLength: 1, maxLength: 64 }).map((bytes) => Buffer.from(bytes)),
        },
        { requiredKeys: ["gateway", "owner", "requestId", "request", "principal", "replyTopic"] },
      ),
      receivedAt: fc.nat(),
    }),
    fc.record({ kind: fc.constant("recorded" as const), key, finalFrame: fc.string() }),
    fc.record({ kind: fc.constantFrom("answered" as const, "forgotten" as const), key }),
    fc.record({ kind: fc.constant("erased" as const), owner: text }),
  );

  it("round-trips every kind of change through the envelope", () => {
    fc.assert(
      fc.property(change, (value) => {
        const decoded = decodeEnvelope(encode({ v: 1, origin: "node-a", change: toWire(value) }), decode);
        expect(decoded.ok).toBe(true);
        if (decoded.ok) expect(fromWire(decoded.change)).toEqual(normalise(value));
      }),
      { numRuns: 300 },
    );
  });

  it("never throws on arbitrary bytes or JSON, and accepts only well-formed changes", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 512 }), (bytes) => {
        const decoded = decodeEnvelope(bytes, decode);
        if (decoded.ok) expect(ledgerChangeSchema.safeParse(decoded.change).success).toBe(true);
      }),
      { numRuns: 300 },
    );
    const hostile = fc.oneof(
      fc.jsonValue(),
      fc.record({ kind: fc.constantFrom("accepted", "recorded", "answered", "forgotten", "erased", "dropped"), gateway: fc.jsonValue(), owner: fc.jsonValue(), request_id: fc.jsonValue() }),
      change.map((value) => ({ ...toWire(value), extra: 1 })),
    );
    fc.assert(
      fc.property(hostile, (value) => {
        const decoded = decodeEnvelope(encode({ v: 1, origin: "evil", change: value }), decode);
        expect(decoded.ok).toBe(ledgerChangeSchema.safeParse(value).success);
      }),
      { numRuns: 500 },
    );
  });

  it("refuses an accepted change whose correlation data is not base64 or whose key is empty", () => {
    const wire = toWire({ kind: "accepted", entry: entry("r1"), receivedAt: 1 });
    expect(ledgerChangeSchema.safeParse(wire).success).toBe(true);
    expect(ledgerChangeSchema.safeParse({ ...wire, correlation_data: "not base64!" }).success).toBe(false);
    expect(ledgerChangeSchema.safeParse({ ...wire, request_id: "" }).success).toBe(false);
    expect(ledgerChangeSchema.safeParse({ kind: "answered", gateway: "g", owner: "o" }).success).toBe(false);
  });
});

/** What a change looks like after a JSON round trip (claims are JSON; -0 becomes 0). */
function normalise(change: LedgerChange): LedgerChange {
  if (change.kind !== "accepted") return change;
  const { principal } = change.entry;
  return { ...change, entry: { ...change.entry, principal: { ...principal, claims: JSON.parse(JSON.stringify(principal.claims)) as Record<string, unknown> } } };
}
