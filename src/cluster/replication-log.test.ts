// The replication log's decoding: any payload is a change or a reason, never an exception (fast-check).
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { decodeEnvelope } from "./replication-log.js";
import { sessionChangeSchema, type SessionChange } from "./replicated-sessions.js";

const decode = (value: unknown) => sessionChangeSchema.parse(value);
const encode = (value: unknown) => new TextEncoder().encode(JSON.stringify(value));

describe("decodeEnvelope", () => {
  it("never throws on arbitrary bytes, and rejects them unless they are a well-formed change", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 512 }), (bytes) => {
        const decoded = decodeEnvelope(bytes, decode);
        if (decoded.ok) expect(sessionChangeSchema.safeParse(decoded.change).success).toBe(true);
      }),
      { numRuns: 500 },
    );
  });

  it("never throws on arbitrary JSON in the envelope, and accepts only valid changes", () => {
    fc.assert(
      fc.property(fc.jsonValue(), fc.oneof(fc.constant("node-a"), fc.string()), fc.oneof(fc.constant(1), fc.jsonValue()), (change, origin, version) => {
        const decoded = decodeEnvelope(encode({ v: version, origin, change }), decode);
        const valid = version === 1 && /^[A-Za-z0-9_-]{1,64}$/.test(origin) && sessionChangeSchema.safeParse(change).success;
        expect(decoded.ok).toBe(valid);
      }),
      { numRuns: 500 },
    );
  });

  it("round-trips every kind of session change with its origin", () => {
    const name = fc.string({ minLength: 1, maxLength: 40 });
    const change: fc.Arbitrary<SessionChange> = fc.oneof(
      fc.record({
        kind: fc.constant("exchange" as const),
        owner: name,
        session: name,
        user: fc.string(),
        assistant: fc.string(),
        steps: fc.array(fc.record({ role: fc.constantFrom("assistant" as const, "tool" as const), content: fc.string(), tool_call_id: fc.string({ maxLength: 20 }), name: fc.string({ maxLength: 20 }) }), { maxLength: 3 }),
      }),
      fc.record({ kind: fc.constant("clear" as const), owner: name, session: name }),
      fc.record({ kind: fc.constant("erase" as const), owner: name }),
    );
    fc.assert(
      fc.property(change, (value) => {
        const decoded = decodeEnvelope(encode({ v: 1, origin: "node-b", change: value }), decode);
        expect(decoded).toEqual({ ok: true, origin: "node-b", change: value });
      }),
    );
  });

  it("names why a payload was refused", () => {
    expect(decodeEnvelope(new Uint8Array([0xff, 0xfe]), decode)).toEqual({ ok: false, reason: "not JSON" });
    expect(decodeEnvelope(encode([1]), decode)).toEqual({ ok: false, reason: "not an object" });
    expect(decodeEnvelope(encode({ v: 2, origin: "a", change: {} }), decode)).toEqual({ ok: false, reason: "unknown version" });
    expect(decodeEnvelope(encode({ v: 1, origin: "a.b", change: {} }), decode)).toEqual({ ok: false, reason: "bad origin" });
    const bad = decodeEnvelope(encode({ v: 1, origin: "a", change: { kind: "exchange" } }), decode);
    expect(bad.ok === false && bad.reason.startsWith("bad change")).toBe(true);
  });
});
