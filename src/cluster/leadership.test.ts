// The lease's fence and its stored value: a renewal's window always ends before the server can expire it.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { leaseTtlMs, leaseValidUntil, parseLeaseValue } from "./leadership.js";

describe("leaseValidUntil", () => {
  it("ends before the lease can expire on the server, and after the next renewal (every half TTL) is due", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 2 ** 45 }), fc.integer({ min: 1, max: 60 }), (sentAt, heartbeatS) => {
        const ttl = leaseTtlMs({ heartbeat_s: heartbeatS });
        const until = leaseValidUntil(sentAt, ttl);
        expect(until).toBeLessThan(sentAt + ttl);
        expect(until).toBeGreaterThan(sentAt + ttl / 2);
      }),
    );
  });
});

describe("parseLeaseValue", () => {
  it("reads back a lease and rejects anything else without throwing", () => {
    const lease = fc.record({ node_id: fc.stringMatching(/^[A-Za-z0-9_-]{1,64}$/), incarnation: fc.uuid(), at: fc.integer({ min: 0 }) });
    fc.assert(fc.property(lease, (value) => {
      expect(parseLeaseValue(new TextEncoder().encode(JSON.stringify(value)))).toEqual(value);
    }));
    fc.assert(fc.property(fc.uint8Array({ maxLength: 100 }), (bytes) => void parseLeaseValue(bytes)));
    fc.assert(fc.property(fc.jsonValue(), (json) => parseLeaseValue(new TextEncoder().encode(JSON.stringify(json))) === undefined));
  });
});
