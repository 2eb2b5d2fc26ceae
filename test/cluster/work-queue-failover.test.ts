// Losing a worker on the work queue (real nats-server, in-process nodes): restart on another worker, hand-over at
// shutdown, worker_lost once the tries are spent, unavailable when no worker took the request.
import { describe, expect, it } from "vitest";
import { collect, expectedText, failure, PacedEngine, request, useWorkQueueCluster } from "./work-queue-fixture.js";

describe("failover on the cluster's work queue", () => {
  const { cluster, worker, gateway } = useWorkQueueCluster();

  it("moves a generation off a lost worker: text, one restart, then the whole answer from the other", async () => {
    const setup = cluster();
    const hanging = new PacedEngine(1, 10);
    hanging.hangAfter = 3;
    const first = await worker(setup, "first", hanging);
    const { engine, counts } = await gateway(setup);
    let second: Awaited<ReturnType<typeof worker>> | undefined;
    let lost: Promise<void> | undefined;
    const parts = await collect(engine, request(), {
      onPart: (part) => {
        if (part.type === "text-delta" && !lost) {
          // The first worker dies holding the request (its link closes, the request is never acked); another comes.
          lost = (async () => {
            second = await worker(setup, "second", new PacedEngine(1, 0));
            await first.link.close();
          })();
        }
      },
    });
    await lost;
    const restarts = parts.filter((part) => part.type === "restart");
    expect(restarts).toEqual([{ type: "restart", reason: "worker_lost", attempt: 2 }]);
    const index = parts.findIndex((part) => part.type === "restart");
    expect(parts.slice(0, index).every((part) => part.type === "text-delta")).toBe(true);
    expect(index).toBeGreaterThan(0);
    const after = parts.slice(index + 1);
    const finish = after.at(-1);
    const expected = await expectedText(request());
    expect(finish).toMatchObject({ type: "finish", finishReason: "stop", text: expected });
    expect(after.flatMap((part) => (part.type === "text-delta" ? [part.text] : [])).join("")).toBe(expected);
    expect(counts.restarts).toBe(1);
    expect(second?.served).toEqual(["stop"]);
  });

  it("hands a worker's requests to another one when it shuts down past its grace", async () => {
    const setup = cluster();
    const slow = new PacedEngine(1, 40);
    const first = await worker(setup, "first", slow);
    const { engine } = await gateway(setup);
    let closing: Promise<void> | undefined;
    const parts = await collect(engine, request(), {
      onPart: (part) => {
        if (part.type === "text-delta" && !closing) {
          closing = (async () => {
            await worker(setup, "second", new PacedEngine(1, 0));
            await first.server.close(0);
          })();
        }
      },
    });
    await closing;
    expect(parts.filter((part) => part.type === "restart")).toHaveLength(1);
    expect(parts.at(-1)).toMatchObject({ type: "finish", finishReason: "stop", text: await expectedText(request()) });
    expect(slow.aborted).toBe(1);
    expect(first.served).toEqual([]);
  });

  it("fails with worker_lost once max_deliver is spent", async () => {
    const setup = cluster({ max_deliver: 1 });
    const hanging = new PacedEngine(1, 10);
    hanging.hangAfter = 2;
    const first = await worker(setup, "only", hanging);
    const { engine } = await gateway(setup);
    const error = await failure(collect(engine, request(), { onPart: (part) => void (part.type === "text-delta" && first.link.close()) }));
    expect(error.code).toBe("worker_lost");
  });

  it("fails with worker_lost when the lost worker was the last one", async () => {
    const setup = cluster({ max_deliver: 3 });
    const hanging = new PacedEngine(1, 10);
    hanging.hangAfter = 2;
    const only = await worker(setup, "only", hanging);
    const { engine } = await gateway(setup);
    const error = await failure(collect(engine, request(), { onPart: (part) => void (part.type === "text-delta" && only.link.close()) }));
    expect(error.code).toBe("worker_lost");
    expect(error.message).toMatch(/no other worker took the request over/);
  });

  it("answers unavailable when no worker takes the request before its deadline", async () => {
    const setup = cluster({ request_timeout_s: 1 });
    const { engine } = await gateway(setup);
    const error = await failure(collect(engine, request()));
    expect(error.code).toBe("unavailable");
    expect(error.message).toMatch(/No worker took the request within 1 s/);
    expect(engine.load()).toEqual({ active: 0, queued: 0 });
  });
});
