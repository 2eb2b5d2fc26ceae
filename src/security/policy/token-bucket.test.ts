// Token buckets and the per-role limiter on an injected clock: no sleeps.
import { describe, expect, it } from "vitest";
import { RoleLimiter } from "./role-limiter.js";
import { TokenBucket } from "./token-bucket.js";

describe("TokenBucket", () => {
  it("starts full, refills at its rate up to one minute's worth, and says how long to wait", () => {
    const bucket = new TokenBucket(60, 0);
    expect(bucket.available(0)).toBe(60);
    bucket.debit(60, 0);
    expect(bucket.available(0)).toBe(0);
    expect(bucket.secondsUntil(1, 0)).toBe(1);
    expect(bucket.available(500)).toBeCloseTo(0.5);
    expect(bucket.available(10_000)).toBeCloseTo(10);
    expect(bucket.available(3_600_000)).toBe(60);
    bucket.debit(100, 3_600_000);
    expect(bucket.available(3_600_000)).toBe(-40);
    expect(bucket.secondsUntil(1, 3_600_000)).toBe(41);
  });
});

describe("RoleLimiter", () => {
  const limits = { requestsPerMinute: 3, tokensPerMinute: undefined, concurrency: undefined };

  it("refuses the request past requests_per_minute with the seconds until the next one, then lets it through", () => {
    let now = 0;
    const limiter = new RoleLimiter(() => now);
    for (let index = 0; index < 3; index += 1) limiter.admit("alice", limits, "Role guest").release();
    expect(() => limiter.admit("alice", limits, "Role guest")).toThrow(expect.objectContaining({ code: "rate_limited", retryAfter: 20 }));
    // Another subject has its own bucket.
    limiter.admit("bob", limits, "Role guest").release();
    now = 19_000;
    expect(() => limiter.admit("alice", limits, "Role guest")).toThrow(expect.objectContaining({ retryAfter: 1 }));
    now = 20_000;
    limiter.admit("alice", limits, "Role guest").release();
  });

  it("debits tokens after the answer and refuses while the bucket is empty", () => {
    let now = 0;
    const limiter = new RoleLimiter(() => now);
    const tokenLimits = { requestsPerMinute: undefined, tokensPerMinute: 600, concurrency: undefined };
    const lease = limiter.admit("alice", tokenLimits, "Role doctor");
    lease.debitTokens(900);
    lease.debitTokens(900); // counted once
    lease.release();
    expect(() => limiter.admit("alice", tokenLimits, "Role doctor")).toThrow(expect.objectContaining({ code: "rate_limited", retryAfter: 31, message: "Role doctor may use 600 tokens per minute." }));
    now = 31_000;
    limiter.admit("alice", tokenLimits, "Role doctor").release();
  });

  it("holds concurrency per key until each lease is released (once)", () => {
    const limiter = new RoleLimiter(() => 0);
    const concurrent = { requestsPerMinute: undefined, tokensPerMinute: undefined, concurrency: 2 };
    const first = limiter.admit("alice", concurrent, "Role doctor");
    limiter.admit("alice", concurrent, "Role doctor");
    expect(() => limiter.admit("alice", concurrent, "Role doctor")).toThrow(expect.objectContaining({ code: "rate_limited", message: "Role doctor may run 2 requests at once." }));
    first.release();
    first.release();
    expect(limiter.running("alice")).toBe(1);
    limiter.admit("alice", concurrent, "Role doctor");
    expect(limiter.running("alice")).toBe(2);
  });
});
