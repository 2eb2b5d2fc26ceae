// Reading heartbeats others wrote: any bytes are either a valid beat of the key's own node or ignored, never a throw.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { memberEntry, parseNodeBeat, type NodeBeat } from "./membership.js";

const encode = (value: unknown) => new TextEncoder().encode(JSON.stringify(value));
const nodeId = fc.stringMatching(/^[A-Za-z0-9_-]{1,64}$/);
const count = fc.integer({ min: 0, max: 1_000_000 });
const beat: fc.Arbitrary<NodeBeat> = fc.record({
  node_id: nodeId,
  roles: fc.subarray(["gateway", "worker"] as ("gateway" | "worker")[]),
  version: fc.string({ maxLength: 20 }),
  model: fc.string({ maxLength: 40 }),
  context_size: count,
  free: count,
  total: count,
  queued: count,
  cpu: fc.double({ min: 0, max: 1, noNaN: true }).map((value) => value + 0), // never -0, which JSON writes as 0
  memory_bytes: count,
  primary: fc.boolean(),
  started_at: count,
  at: count,
});

describe("parseNodeBeat", () => {
  it("reads back every beat written under its own node's key", () => {
    fc.assert(fc.property(beat, (value) => {
      expect(parseNodeBeat(value.node_id, encode(value))).toEqual(value);
    }));
  });

  it("ignores a beat written under another node's key", () => {
    fc.assert(fc.property(beat, nodeId, (value, key) => key === value.node_id || parseNodeBeat(key, encode(value)) === undefined));
  });

  it("never throws on arbitrary bytes or JSON, and accepts nothing that is not a beat", () => {
    fc.assert(
      fc.property(fc.string(), fc.uint8Array({ maxLength: 200 }), (key, bytes) => {
        const parsed = parseNodeBeat(key, bytes);
        return parsed === undefined || parsed.node_id === key;
      }),
    );
    fc.assert(fc.property(fc.string(), fc.jsonValue(), (key, json) => parseNodeBeat(key, encode(json)) === undefined));
  });

  it("ignores a beat with one field of the wrong type or range", () => {
    const wrong = fc.oneof(
      ...["free", "total", "queued", "memory_bytes", "context_size", "at"].map((field) => fc.constant({ [field]: -1 })),
      fc.constant({ cpu: 1.5 }),
      fc.constant({ cpu: "high" }),
      fc.constant({ roles: ["gateway", "admin"] }),
      fc.constant({ primary: "yes" }),
      fc.constant({ model: "m".repeat(300) }),
    );
    fc.assert(fc.property(beat, wrong, (value, change) => parseNodeBeat(value.node_id, encode({ ...value, ...change })) === undefined));
  });
});

describe("memberEntry", () => {
  it("is alive while the last beat is at most 3 heartbeats old, by the bucket's time", () => {
    fc.assert(
      fc.property(beat, fc.integer({ min: 1, max: 60 }), fc.integer({ min: 0, max: 1_000_000 }), (value, heartbeatS, ageMs) => {
        const entry = memberEntry(value, 1_000_000, heartbeatS, 1_000_000 + ageMs);
        expect(entry.alive).toBe(ageMs <= 3 * heartbeatS * 1000);
        // Rounded to a tenth of a second (0.05 at most, give or take floating point).
        expect(Math.abs(entry.age_s - ageMs / 1000)).toBeLessThanOrEqual(0.05 + 1e-9);
      }),
    );
  });
});
