// Unit tests of the AdmissionQueue: FIFO slots, the global queue bound and the per-owner share of it.
import { describe, expect, it } from "vitest";
import { ClawError } from "../core/errors.js";
import { AdmissionQueue, type SlotLease } from "./admission-queue.js";

const alice = { key: "alice", maxQueued: 2 };
const bob = { key: "bob", maxQueued: 2 };

function codeOf(promise: Promise<unknown>): Promise<string> {
  return promise.then(
    () => "admitted",
    (error: unknown) => (error instanceof ClawError ? error.code : "other"),
  );
}

describe("AdmissionQueue", () => {
  it("hands out slots in arrival order and refuses past max_queue", async () => {
    const queue = new AdmissionQueue(1, 2);
    const first = await queue.acquire();
    const order: string[] = [];
    const second = queue.acquire().then((lease) => (order.push("second"), lease));
    const third = queue.acquire().then((lease) => (order.push("third"), lease));
    expect(await codeOf(queue.acquire())).toBe("overloaded");
    first.release();
    (await second).release();
    (await third).release();
    expect(order).toEqual(["second", "third"]);
    expect(queue.queued).toBe(0);
  });

  it("refuses an owner past its share of the queue while others still queue", async () => {
    const queue = new AdmissionQueue(1, 4);
    const running = await queue.acquire(undefined, undefined, alice);
    const aliceWaiting = [queue.acquire(undefined, undefined, alice), queue.acquire(undefined, undefined, alice)];
    const refused = queue.acquire(undefined, undefined, alice);
    await expect(refused).rejects.toMatchObject({ code: "overloaded", message: expect.stringContaining("per-user limit") });
    expect(queue.queuedFor("alice")).toBe(2);
    // Bob still gets a place in the queue, and is served in arrival order after Alice's.
    const bobWaiting = queue.acquire(undefined, undefined, bob);
    expect(queue.queued).toBe(3);
    running.release();
    const leases: SlotLease[] = [];
    for (const waiting of [...aliceWaiting, bobWaiting]) {
      const lease = await waiting;
      leases.push(lease);
      lease.release();
    }
    expect(leases).toHaveLength(3);
    expect(queue.queuedFor("alice")).toBe(0);
    expect(queue.queuedFor("bob")).toBe(0);
  });

  it("gives an owner its place back when a queued request starts or is cancelled", async () => {
    const queue = new AdmissionQueue(1, 8);
    const running = await queue.acquire(undefined, undefined, alice);
    const controller = new AbortController();
    const cancelled = queue.acquire(controller.signal, undefined, alice);
    const waiting = queue.acquire(undefined, undefined, alice);
    expect(await codeOf(queue.acquire(undefined, undefined, alice))).toBe("overloaded");
    controller.abort();
    expect(await codeOf(cancelled)).toBe("cancelled");
    expect(queue.queuedFor("alice")).toBe(1);
    const again = queue.acquire(undefined, undefined, alice);
    expect(queue.queuedFor("alice")).toBe(2);
    running.release();
    (await waiting).release();
    expect(queue.queuedFor("alice")).toBe(0);
    (await again).release();
    expect(queue.active).toBe(0);
  });

  it("does not count requests that get a free slot at once against the owner's share", async () => {
    const queue = new AdmissionQueue(3, 1);
    const leases = await Promise.all([0, 1, 2].map(() => queue.acquire(undefined, undefined, { key: "alice", maxQueued: 0 })));
    expect(queue.active).toBe(3);
    expect(await codeOf(queue.acquire(undefined, undefined, { key: "alice", maxQueued: 0 }))).toBe("overloaded");
    for (const lease of leases) lease.release();
  });

  it("forgets every owner's waiters when closed", async () => {
    const queue = new AdmissionQueue(1, 4);
    const running = await queue.acquire(undefined, undefined, alice);
    const waiting = queue.acquire(undefined, undefined, alice);
    queue.close(new ClawError("unavailable", "closing"));
    expect(await codeOf(waiting)).toBe("unavailable");
    expect(queue.queuedFor("alice")).toBe(0);
    running.release();
  });
});
