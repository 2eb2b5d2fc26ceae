// DeliveryQueue on a virtual clock: order per conversation, retries with backoff and Retry-After, expired tokens, give-up, rate windows, close.
import { describe, expect, it } from "vitest";
import { DeliveryQueue, type DeliveryQueueOptions } from "./delivery-queue.js";
import { ImDeliveryError } from "./im-channel-types.js";

/** A queue whose waits advance a virtual clock at once; `sleeps` records each wait. */
function virtualQueue(options: Partial<DeliveryQueueOptions> = {}) {
  const clock = { now: 0, sleeps: [] as number[] };
  const queue = new DeliveryQueue({
    deliveryTimeoutMs: 60_000,
    now: () => clock.now,
    sleep: async (ms) => {
      clock.sleeps.push(ms);
      clock.now += ms;
    },
    random: () => 0.5,
    ...options,
  });
  return { queue, clock };
}

const direct = { conversation: "alice", chatType: "direct" as const };

/** A send that fails with `errors` in turn, then succeeds; `calls` counts attempts. */
function flaky(...errors: Error[]) {
  const state = { calls: 0 };
  const send = async () => {
    const error = errors[state.calls++];
    if (error) throw error;
  };
  return { state, send };
}

describe("DeliveryQueue", () => {
  it("sends one conversation's pieces in order, one at a time", async () => {
    const { queue } = virtualQueue();
    const log: string[] = [];
    let release: () => void = () => {};
    const first = queue.enqueue(direct, () => new Promise<void>((resolve) => (release = () => (log.push("1"), resolve()))));
    const second = queue.enqueue(direct, async () => void log.push("2"));
    const other = queue.enqueue({ conversation: "bob", chatType: "direct" }, async () => void log.push("bob"));
    await other;
    expect(log).toEqual(["bob"]);
    expect(queue.queued).toBe(2);
    release();
    expect(await Promise.all([first, second])).toEqual(["sent", "sent"]);
    expect(log).toEqual(["bob", "1", "2"]);
    expect(queue.queued).toBe(0);
  });

  it("retries retryable errors with exponential backoff and honours retryAfterMs", async () => {
    const { queue, clock } = virtualQueue();
    const { state, send } = flaky(new ImDeliveryError("5xx", true), new ImDeliveryError("429", true, 5000), new TypeError("fetch failed"));
    expect(await queue.enqueue(direct, send)).toBe("sent");
    expect(state.calls).toBe(4);
    expect(clock.sleeps).toEqual([500, 5000, 2000]);
    expect(queue.counts).toEqual({ sent: 1, retried: 3, failed: 0 });
  });

  it("drops the cached token before retrying an expired-token error, at once the first time", async () => {
    let expired = 0;
    const { queue, clock } = virtualQueue({ onTokenExpired: () => void (expired += 1) });
    const { state, send } = flaky(new ImDeliveryError("token expired", false, undefined, true));
    expect(await queue.enqueue(direct, send)).toBe("sent");
    expect({ calls: state.calls, expired, sleeps: clock.sleeps }).toEqual({ calls: 2, expired: 1, sleeps: [] });
  });

  it("gives up a non-retryable error at once and a retryable one past the timeout, without throwing", async () => {
    const { queue, clock } = virtualQueue({ deliveryTimeoutMs: 10_000 });
    const refused = flaky(new ImDeliveryError("bad request", false));
    expect(await queue.enqueue(direct, refused.send)).toBe("failed");
    expect(refused.state.calls).toBe(1);
    const down = flaky(...Array.from({ length: 100 }, () => new ImDeliveryError("503", true)));
    expect(await queue.enqueue(direct, down.send)).toBe("failed");
    expect(clock.now).toBeLessThanOrEqual(10_000);
    expect(down.state.calls).toBeGreaterThan(3);
    expect(queue.counts.failed).toBe(2);
  });

  it("keeps each user and group within its sends per minute, waiting rather than dropping", async () => {
    // One conversation at a time: the virtual clock jumps on each wait, so concurrent waits would blur the times.
    for (const [route, limit] of [[direct, 2], [{ conversation: "team", chatType: "group" as const }, 1]] as const) {
      const { queue, clock } = virtualQueue({ userRatePerMinute: 2, groupRatePerMinute: 1 });
      const sentAt: number[] = [];
      const results = await Promise.all(Array.from({ length: 5 }, () => queue.enqueue(route, async () => void sentAt.push(clock.now))));
      expect(results.every((result) => result === "sent")).toBe(true);
      expect(sentAt).toHaveLength(5);
      for (const time of sentAt) expect(sentAt.filter((other) => other >= time && other < time + 60_000).length).toBeLessThanOrEqual(limit);
      expect(sentAt.at(-1)).toBe(Math.ceil(5 / limit - 1) * 60_000);
    }
  });

  it("tries a streamed (partial) update once, outside the rate limit", async () => {
    const { queue, clock } = virtualQueue({ userRatePerMinute: 1 });
    await queue.enqueue(direct, async () => {});
    const { state, send } = flaky(new ImDeliveryError("503", true));
    expect(await queue.enqueue(direct, send, { partial: true })).toBe("failed");
    expect(await queue.enqueue(direct, async () => {}, { partial: true })).toBe("sent");
    expect({ calls: state.calls, sleeps: clock.sleeps }).toEqual({ calls: 1, sleeps: [] });
  });

  it("close() waits up to the grace, then cancels what still waits", async () => {
    const queue = new DeliveryQueue({
      deliveryTimeoutMs: 60_000,
      sleep: (_ms, signal) => new Promise((resolve) => signal.addEventListener("abort", () => resolve(), { once: true })),
    });
    const { send } = flaky(new ImDeliveryError("503", true));
    const pending = queue.enqueue(direct, send);
    const later = queue.enqueue(direct, async () => {});
    await queue.close(20);
    expect(await pending).toBe("cancelled");
    expect(await later).toBe("cancelled");
  });
});
