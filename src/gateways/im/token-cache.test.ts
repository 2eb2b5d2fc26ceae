// TokenCache with an injected clock: one fetch shared, refreshed before expiry (margin capped at half the life), invalidate, failed fetches.
import { describe, expect, it } from "vitest";
import { TokenCache } from "./token-cache.js";

function counter(expiresInSeconds = 7200) {
  const state = { calls: 0, fail: false };
  const fetch = async () => {
    state.calls += 1;
    if (state.fail) throw new Error("gettoken failed");
    return { token: `token-${state.calls}`, expiresInSeconds };
  };
  return { state, fetch };
}

describe("TokenCache", () => {
  it("shares one fetch between concurrent callers and caches the token", async () => {
    let now = 0;
    const { state, fetch } = counter();
    const cache = new TokenCache(fetch, { now: () => now });
    expect(await Promise.all([cache.get(), cache.get(), cache.get()])).toEqual(["token-1", "token-1", "token-1"]);
    now += 3600_000;
    expect(await cache.get()).toBe("token-1");
    expect(state.calls).toBe(1);
  });

  it("refreshes once less than the margin remains", async () => {
    let now = 0;
    const { state, fetch } = counter(7200);
    const cache = new TokenCache(fetch, { now: () => now, refreshMarginSeconds: 300 });
    await cache.get();
    now = (7200 - 301) * 1000;
    expect(await cache.get()).toBe("token-1");
    now = (7200 - 299) * 1000;
    expect(await cache.get()).toBe("token-2");
    expect(state.calls).toBe(2);
  });

  it("caps the margin at half the token's life", async () => {
    let now = 0;
    const { fetch } = counter(100);
    const cache = new TokenCache(fetch, { now: () => now });
    await cache.get();
    now = 49_000;
    expect(await cache.get()).toBe("token-1");
    now = 50_000;
    expect(await cache.get()).toBe("token-2");
  });

  it("fetches again after invalidate()", async () => {
    const { fetch } = counter();
    const cache = new TokenCache(fetch, { now: () => 0 });
    expect(await cache.get()).toBe("token-1");
    cache.invalidate();
    expect(await cache.get()).toBe("token-2");
  });

  it("throws a failed fetch to every waiter and fetches again on the next call", async () => {
    const { state, fetch } = counter();
    const cache = new TokenCache(fetch, { now: () => 0 });
    state.fail = true;
    const results = await Promise.allSettled([cache.get(), cache.get()]);
    expect(results.map((result) => result.status)).toEqual(["rejected", "rejected"]);
    expect(state.calls).toBe(1);
    state.fail = false;
    expect(await cache.get()).toBe("token-2");
  });

  it("refuses a response without a token, and never caches a token without a life", async () => {
    let calls = 0;
    const cache = new TokenCache(async () => ({ token: calls++ === 0 ? "" : "t", expiresInSeconds: Number.NaN }), { now: () => 0 });
    await expect(cache.get()).rejects.toThrow(/no token/);
    expect(await cache.get()).toBe("t");
    expect(await cache.get()).toBe("t");
    expect(calls).toBe(3);
  });
});
