// Unit tests of the AdmissionQueue: FIFO slots, the global queue bound, the per-owner share of it, and freed slots paired by score.
import fc from "fast-check";
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
    const running = await queue.acquire(undefined, { owner: alice });
    const aliceWaiting = [queue.acquire(undefined, { owner: alice }), queue.acquire(undefined, { owner: alice })];
    const refused = queue.acquire(undefined, { owner: alice });
    await expect(refused).rejects.toMatchObject({ code: "overloaded", message: expect.stringContaining("per-user limit") });
    expect(queue.queuedFor("alice")).toBe(2);
    // Bob still gets a place in the queue, and is served in arrival order after Alice's.
    const bobWaiting = queue.acquire(undefined, { owner: bob });
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
    const running = await queue.acquire(undefined, { owner: alice });
    const controller = new AbortController();
    const cancelled = queue.acquire(controller.signal, { owner: alice });
    const waiting = queue.acquire(undefined, { owner: alice });
    expect(await codeOf(queue.acquire(undefined, { owner: alice }))).toBe("overloaded");
    controller.abort();
    expect(await codeOf(cancelled)).toBe("cancelled");
    expect(queue.queuedFor("alice")).toBe(1);
    const again = queue.acquire(undefined, { owner: alice });
    expect(queue.queuedFor("alice")).toBe(2);
    running.release();
    (await waiting).release();
    expect(queue.queuedFor("alice")).toBe(0);
    (await again).release();
    expect(queue.active).toBe(0);
  });

  it("does not count requests that get a free slot at once against the owner's share", async () => {
    const queue = new AdmissionQueue(3, 1);
    const leases = await Promise.all([0, 1, 2].map(() => queue.acquire(undefined, { owner: { key: "alice", maxQueued: 0 } })));
    expect(queue.active).toBe(3);
    expect(await codeOf(queue.acquire(undefined, { owner: { key: "alice", maxQueued: 0 } }))).toBe("overloaded");
    for (const lease of leases) lease.release();
  });

  it("forgets every owner's waiters when closed", async () => {
    const queue = new AdmissionQueue(1, 4);
    const running = await queue.acquire(undefined, { owner: alice });
    const waiting = queue.acquire(undefined, { owner: alice });
    queue.close(new ClawError("unavailable", "closing"));
    expect(await codeOf(waiting)).toBe("unavailable");
    expect(queue.queuedFor("alice")).toBe(0);
    running.release();
  });

  it("gives a freed slot to the waiter it holds most work of among the first few, and the head the next one", async () => {
    const queue = new AdmissionQueue(2, 8);
    const [first, second] = [await queue.acquire(undefined, { choose: () => 0 }), await queue.acquire(undefined, { choose: () => 1 })];
    const order: string[] = [];
    const waiting = (name: string, score: (slot: number) => number) =>
      queue.acquire(undefined, { score }).then((lease) => (order.push(`${name}@${lease.slot}`), lease));
    const head = waiting("head", () => 0);
    const middle = waiting("middle", () => 0);
    const returning = waiting("returning", (slot) => (slot === 1 ? 500 : 0));
    (second as SlotLease).release();
    await returning;
    (first as SlotLease).release();
    await head;
    expect(order).toEqual(["returning@1", "head@0"]);
    expect(queue.queued).toBe(1);
    (await returning).release();
    expect((await middle).slot).toBe(1);
  });

  it("keeps arrival order when scores tie, and looks no further than the lookahead", async () => {
    const queue = new AdmissionQueue(1, 8, { lookahead: 2 });
    let lease = await queue.acquire();
    const order: string[] = [];
    const waiting = (name: string, score: number) => queue.acquire(undefined, { score: () => score }).then((granted) => (order.push(name), granted));
    const leases = [waiting("a", 7), waiting("b", 7), waiting("c", 900)];
    for (let round = 0; round < 3; round += 1) {
      lease.release();
      lease = await Promise.race(leases.filter((_unused, index) => !order.includes(["a", "b", "c"][index] as string)));
    }
    lease.release();
    // a and b tie (c is past the lookahead at first); once a runs, c is within it and outscores b.
    expect(order).toEqual(["a", "c", "b"]);
  });

  it("passes the head over at most maxPassOver times", async () => {
    const queue = new AdmissionQueue(1, 16, { maxPassOver: 2 });
    let lease = await queue.acquire();
    const order: string[] = [];
    const head = queue.acquire(undefined, { score: () => 0 }).then((granted) => (order.push("head"), granted));
    for (let round = 0; round < 4; round += 1) {
      const preferred = queue.acquire(undefined, { score: () => 100 }).then((granted) => (order.push(`preferred${round}`), granted));
      lease.release();
      lease = await Promise.race([preferred, head]);
    }
    lease.release();
    expect(order.slice(0, 3)).toEqual(["preferred0", "preferred1", "head"]);
  });

  it("admits every waiter within (place in the queue + 1) × (maxPassOver + 1) releases, whatever the scores", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 3 }),
        fc.integer({ min: 0, max: 3 }),
        fc.array(fc.record({ arrive: fc.boolean(), scores: fc.array(fc.nat(5), { minLength: 3, maxLength: 3 }) }), { minLength: 1, maxLength: 60 }),
        async (slots, maxPassOver, steps) => {
          const queue = new AdmissionQueue(slots, 1000, { lookahead: 4, maxPassOver });
          const held: SlotLease[] = [];
          let releases = 0;
          const waiting: { bound: number; admittedAt?: number }[] = [];
          const arrive = (scores: number[]) => {
            const record: { bound: number; admittedAt?: number } = { bound: Number.POSITIVE_INFINITY };
            const place = queue.queued;
            void queue.acquire(undefined, { score: (slot) => scores[slot % scores.length] as number }).then((lease) => {
              record.admittedAt = releases;
              held.push(lease);
            });
            record.bound = releases + (place + 1) * (maxPassOver + 1);
            if (queue.active === slots) waiting.push(record);
          };
          {
            for (const step of steps) {
              if (step.arrive || held.length === 0) arrive(step.scores);
              else {
                releases += 1;
                (held.shift() as SlotLease).release();
              }
              await Promise.resolve();
              await Promise.resolve();
            }
            while (held.length > 0 || queue.queued > 0) {
              releases += 1;
              (held.shift() as SlotLease).release();
              await Promise.resolve();
              await Promise.resolve();
            }
            for (const record of waiting) expect(record.admittedAt ?? Number.POSITIVE_INFINITY).toBeLessThanOrEqual(record.bound);
          }
        },
      ),
    );
  });

  it("holds a freed slot for the request with its key while others wait, and hands it on when none comes", async () => {
    const queue = new AdmissionQueue(1, 8);
    const first = await queue.acquire(undefined, { key: "alice" });
    let headAdmitted = false;
    const head = queue.acquire(undefined, { key: "bob" }).then((lease) => ((headAdmitted = true), lease));
    first.release({ key: "alice", ms: 60_000 });
    await Promise.resolve();
    expect(headAdmitted).toBe(false);
    // Alice's next turn takes the slot kept for her, ahead of Bob.
    const returning = await queue.acquire(undefined, { key: "alice" });
    expect(returning.slot).toBe(first.slot);
    expect(queue.queued).toBe(1);
    // Nobody comes back for this one: it goes on to Bob when the hold ends.
    returning.release({ key: "alice", ms: 1 });
    expect((await head).slot).toBe(first.slot);
    (await head).release();
    expect(queue.active).toBe(0);
  });

  it("holds nothing when nobody waits, when a waiter scores on the slot, or once the head was passed over maxPassOver times", async () => {
    const queue = new AdmissionQueue(1, 8, { maxPassOver: 1 });
    const first = await queue.acquire(undefined, { key: "alice" });
    first.release({ key: "alice", ms: 60_000 });
    expect(queue.active).toBe(0);
    const second = await queue.acquire(undefined, { key: "alice" });
    const carol = queue.acquire(undefined, { key: "carol", score: () => 10 });
    second.release({ key: "alice", ms: 60_000 });
    const carolLease = await carol;
    // Bob waits; Alice comes back once and passes him over; the next release goes to him at once.
    const bob = queue.acquire(undefined, { key: "bob" });
    carolLease.release({ key: "alice", ms: 60_000 });
    const alice = await queue.acquire(undefined, { key: "alice" });
    alice.release({ key: "alice", ms: 60_000 });
    (await bob).release();
    expect(queue.active).toBe(0);
    queue.close(new ClawError("unavailable", "closing"));
  });

  it("forgets held slots when closed", async () => {
    const queue = new AdmissionQueue(1, 8);
    const first = await queue.acquire(undefined, { key: "alice" });
    const waiting = queue.acquire(undefined, { key: "bob" });
    first.release({ key: "alice", ms: 60_000 });
    queue.close(new ClawError("unavailable", "closing"));
    expect(await codeOf(waiting)).toBe("unavailable");
    expect(await codeOf(queue.acquire(undefined, { key: "alice" }))).toBe("unavailable");
  });
});
