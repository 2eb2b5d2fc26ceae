// RecentRequests: remembers keys for a TTL, forgets the oldest beyond its capacity.
import { describe, expect, it } from "vitest";
import { RecentRequests } from "./recent-requests.js";

describe("RecentRequests", () => {
  it("forgets a key after its TTL", () => {
    let now = 0;
    const recent = new RecentRequests({ capacity: 10, ttlMs: 1000, now: () => now });
    recent.add("a");
    expect(recent.has("a")).toBe(true);
    now = 1001;
    expect(recent.has("a")).toBe(false);
    expect(recent.size).toBe(0);
  });

  it("keeps at most `capacity` keys, dropping the oldest", () => {
    const recent = new RecentRequests({ capacity: 3, ttlMs: 60_000 });
    for (const key of ["a", "b", "c", "d"]) recent.add(key);
    expect(["a", "b", "c", "d"].map((key) => recent.has(key))).toEqual([false, true, true, true]);
    expect(recent.size).toBe(3);
  });

  it("drops expired keys when adding", () => {
    let now = 0;
    const recent = new RecentRequests({ capacity: 100, ttlMs: 10, now: () => now });
    recent.add("a");
    recent.add("b");
    now = 50;
    recent.add("c");
    expect(recent.size).toBe(1);
  });
});
