// Tests for collapsing bursts of refused credentials into one counting record per gateway and window.
import { describe, expect, it } from "vitest";
import { AuthFailureBursts, type AuthFailure, type SuppressedAuthFailures } from "./auth-failure-bursts.js";

function setup(perWindow = 3) {
  let now = 10_000;
  const recorded: AuthFailure[] = [];
  const summaries: SuppressedAuthFailures[] = [];
  const timers: { at: number; callback: () => void; cancelled: boolean }[] = [];
  const bursts = new AuthFailureBursts({
    perWindow,
    windowMs: 1000,
    clock: () => now,
    record: (failure) => recorded.push(failure),
    recordSuppressed: (summary) => summaries.push(summary),
    schedule: (callback, delayMs) => {
      const timer = { at: now + delayMs, callback, cancelled: false };
      timers.push(timer);
      return { cancel: () => void (timer.cancelled = true) };
    },
  });
  /** Moves the clock and fires the timers that are due. */
  const advance = (ms: number) => {
    now += ms;
    for (const timer of timers.filter((each) => !each.cancelled && each.at <= now)) {
      timer.cancelled = true;
      timer.callback();
    }
  };
  const fail = (gateway: string, code: AuthFailure["code"] = "unauthorized") => bursts.failed({ gateway, code, reason: "bad token", remote: "10.0.0.9" });
  return { bursts, recorded, summaries, advance, fail, moveClock: (ms: number) => void (now += ms) };
}

describe("AuthFailureBursts", () => {
  it("records the first N failures of a second one by one, then one record counting the rest when the second ends", () => {
    const { recorded, summaries, advance, fail } = setup(3);
    for (let index = 0; index < 3; index += 1) fail("websocket");
    expect(recorded).toHaveLength(3);
    for (let index = 0; index < 1000; index += 1) fail("websocket", index % 2 === 0 ? "unauthorized" : "forbidden");
    expect(recorded).toHaveLength(3);
    expect(summaries).toEqual([]);
    advance(1000);
    expect(summaries).toEqual([{ gateway: "websocket", suppressed: 1000, since: 10_000, until: 11_000, codes: { unauthorized: 500, forbidden: 500 } }]);
    // A new second records one by one again.
    fail("websocket");
    expect(recorded).toHaveLength(4);
  });

  it("counts each gateway on its own", () => {
    const { recorded, summaries, fail, bursts } = setup(1);
    fail("websocket");
    fail("websocket");
    fail("http");
    expect(recorded.map((failure) => failure.gateway)).toEqual(["websocket", "http"]);
    bursts.flush();
    expect(summaries.map((summary) => [summary.gateway, summary.suppressed])).toEqual([["websocket", 1]]);
  });

  it("writes the pending count when a failure arrives after the window, even before its timer ran", () => {
    const { summaries, recorded, fail, moveClock } = setup(1);
    fail("http");
    fail("http");
    moveClock(1500);
    expect(summaries).toEqual([]);
    fail("http");
    expect(summaries).toEqual([{ gateway: "http", suppressed: 1, since: 10_000, until: 11_000, codes: { unauthorized: 1 } }]);
    expect(recorded).toHaveLength(2);
  });

  it("writes nothing more when nothing was suppressed", () => {
    const { summaries, fail, advance, bursts } = setup(5);
    fail("http");
    advance(5000);
    fail("http");
    bursts.flush();
    expect(summaries).toEqual([]);
  });
});
