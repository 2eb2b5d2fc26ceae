// ReconnectBackoff: doubles from 1 s up to the cap, with bounded jitter, and starts over after reset.
import { describe, expect, it } from "vitest";
import { ReconnectBackoff } from "./reconnect-backoff.js";

describe("ReconnectBackoff", () => {
  it("doubles up to the cap and starts over after reset", () => {
    const backoff = new ReconnectBackoff({ maxMs: 10_000, jitter: 0 });
    expect(Array.from({ length: 6 }, () => backoff.next())).toEqual([1000, 2000, 4000, 8000, 10_000, 10_000]);
    backoff.reset();
    expect(backoff.next()).toBe(1000);
  });

  it("keeps jittered delays within ±jitter and never above the cap", () => {
    const low = new ReconnectBackoff({ maxMs: 30_000, jitter: 0.2, random: () => 0 });
    const high = new ReconnectBackoff({ maxMs: 3_000, jitter: 0.2, random: () => 1 });
    expect([low.next(), low.next()]).toEqual([800, 1600]);
    expect([high.next(), high.next(), high.next()]).toEqual([1200, 2400, 3000]);
  });

  it("starts below one second when the cap is lower", () => {
    expect(new ReconnectBackoff({ maxMs: 200, jitter: 0 }).next()).toBe(200);
  });
});
