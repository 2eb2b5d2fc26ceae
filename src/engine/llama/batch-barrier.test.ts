// The barrier releases waiting generations together, only once no decode is in flight, and never holds a lone one.
import { describe, expect, it } from "vitest";
import { BatchBarrier } from "./batch-barrier.js";

const ticks = () => new Promise((resolve) => setImmediate(resolve));

describe("BatchBarrier", () => {
  it("lets a lone generation through without waiting", () => {
    const barrier = new BatchBarrier();
    barrier.join();
    expect(barrier.promptTurn()).toBeUndefined();
    expect(barrier.turn()).toBeUndefined();
    barrier.returned();
    expect(barrier.turn()).toBeUndefined();
  });

  it("holds each generation until every decode in flight has returned, then releases them all at once", async () => {
    const barrier = new BatchBarrier();
    const released: string[] = [];
    barrier.join();
    barrier.join();
    barrier.join();
    // All three are in flight (one batch).
    await Promise.all(["a", "b", "c"].map((name) => barrier.turn()?.then(() => released.push(name))));
    expect(released).toEqual(["a", "b", "c"]);
    released.length = 0;
    // a and b get their tokens and want the next batch; c's token has not come back yet.
    barrier.returned();
    const a = barrier.turn()?.then(() => released.push("a"));
    barrier.returned();
    const b = barrier.turn()?.then(() => released.push("b"));
    await ticks();
    expect(released).toEqual([]);
    barrier.returned();
    const c = barrier.turn()?.then(() => released.push("c"));
    await Promise.all([a, b, c]);
    expect(released).toEqual(["a", "b", "c"]);
  });

  it("does not count a prompt in flight, and releases the others when a generation leaves", async () => {
    const barrier = new BatchBarrier();
    barrier.join();
    barrier.join();
    await barrier.turn();
    // The second generation's prompt waits for the running decode, then goes with the next release.
    let promptReleased = false;
    const prompt = barrier.promptTurn()?.then(() => (promptReleased = true));
    await ticks();
    expect(promptReleased).toBe(false);
    barrier.returned();
    await prompt;
    // The prompt is not in flight: the first generation's next turn does not wait for it.
    await barrier.turn();
    barrier.returned();
    barrier.leave();
    expect(barrier.turn()).toBeUndefined();
  });
});
