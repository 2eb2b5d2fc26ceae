// The work queue against a real nats-server: answers, tool calls and errors come back whole; capacity-aware pulls;
// cancellation; conversation affinity; NATS down. (Failover: work-queue-failover.test.ts.)
import { describe, expect, it } from "vitest";
import { RemoteEngine } from "../../src/cluster/remote-engine.js";
import { EchoEngine } from "../../src/engine/echo/echo-engine.js";
import { silentLogger } from "../../src/logging/logger.js";
import { freePort } from "../helpers/free-port.js";
import { beat, collect, expectedText, failure, PacedEngine, request, useWorkQueueCluster, watchSubjects } from "./work-queue-fixture.js";

describe("the cluster's work queue", () => {
  const { cluster, link, worker, gateway } = useWorkQueueCluster();

  it("streams a generation back complete, ignoring malformed requests, replies and cancels", async () => {
    const setup = cluster();
    const work = await worker(setup, "w1", new PacedEngine(2, 5));
    const { engine, link: gatewayLink } = await gateway(setup);
    const session = await gatewayLink.ready;
    // Hostile traffic: garbage on the work queue, and garbage (and another request's id) on the gateway's inbox.
    session.connection.subscribe(`${setup.names.replyPrefix}.>`, {
      callback: (_error, message) => {
        session.connection.publish(message.subject, new TextEncoder().encode("{not json"));
        session.connection.publish(message.subject, new TextEncoder().encode(JSON.stringify({ id: "other", attempt: 1, delivery: 1, type: "working" })));
        // On the worker's cancel subject: garbage, and a cancel of another attempt (neither stops this one).
        const cancelSubject = setup.names.cancel(message.subject.split(".").at(-1) ?? "");
        session.connection.publish(cancelSubject, new TextEncoder().encode("[1,"));
        session.connection.publish(cancelSubject, new TextEncoder().encode(JSON.stringify({ attempt: 7 })));
      },
      max: 1,
    });
    await session.jetstream.publish(setup.names.workAny, new Uint8Array([0xff, 0x00, 0x7b]));
    const parts = await collect(engine, request());
    const finish = parts.at(-1);
    expect(finish).toMatchObject({ type: "finish", finishReason: "stop", text: await expectedText(request()) });
    const deltas = parts.filter((part) => part.type === "text-delta").map((part) => part.text);
    expect(deltas.length).toBeGreaterThan(3);
    expect(deltas.join("")).toBe(finish?.type === "finish" ? finish.text : "");
    expect(work.server.refused()).toBe(2);
    expect(engine.refused()).toBe(2);
    expect(engine.load()).toEqual({ active: 0, queued: 0 });
  });

  it("passes tool calls through and returns an engine's error with its code", async () => {
    const setup = cluster();
    await worker(setup, "w1", new PacedEngine(2, 0));
    const { engine } = await gateway(setup);
    const tools = { definitions: [{ name: "clock", description: "The time.", parameters: { type: "object", properties: {} } }], choice: "required" as const, constrained: true };
    const parts = await collect(engine, request({ tools }));
    expect(parts.map((part) => part.type)).toEqual(["tool-call", "finish"]);
    expect(parts[0]).toMatchObject({ type: "tool-call", call: { name: "clock", arguments: "{}" } });
    expect(parts[1]).toMatchObject({ finishReason: "tool_calls" });
    const error = await failure(collect(engine, request({ params: { maxTokens: 10, temperature: 0, responseFormat: { type: "json_object" } } })));
    expect(error).toMatchObject({ code: "bad_request", param: "response_format" });
  });

  it("gives a worker with four sequences more requests than one with one", async () => {
    const setup = cluster();
    const small = await worker(setup, "small", new PacedEngine(1, 15));
    const large = await worker(setup, "large", new PacedEngine(4, 15));
    const { engine } = await gateway(setup);
    const answers = await Promise.all(Array.from({ length: 20 }, () => collect(engine, request())));
    expect(answers.every((parts) => parts.at(-1)?.type === "finish")).toBe(true);
    expect(small.served.length + large.served.length).toBe(20);
    expect(large.served.length).toBeGreaterThan(small.served.length);
  });

  it("carries a cancellation to the worker's engine", async () => {
    const setup = cluster();
    const paced = new PacedEngine(1, 50);
    const work = await worker(setup, "w1", paced);
    const { engine } = await gateway(setup);
    const controller = new AbortController();
    const parts = await collect(engine, request(), { signal: controller.signal, onPart: (part) => void (part.type === "text-delta" && controller.abort()) });
    expect(parts.at(-1)).toMatchObject({ type: "finish", finishReason: "cancelled" });
    expect(paced.aborted).toBe(1);
    expect(work.served).toEqual(["cancelled"]);
  });

  it("sends a conversation's next turns back to the worker that served it", async () => {
    const setup = cluster();
    const engines = { a: new PacedEngine(1, 0), b: new PacedEngine(1, 0) };
    await worker(setup, "a", engines.a);
    await worker(setup, "b", engines.b);
    const { engine, link: gatewayLink } = await gateway(setup, { alive: () => [beat("a", 1), beat("b", 1)] });
    const seen = await watchSubjects(setup.names, gatewayLink);
    const turn = request({ conversation: "alice:s1" });
    await collect(engine, turn);
    const served = engines.a.started === 1 ? "a" : "b";
    for (let index = 0; index < 4; index += 1) await collect(engine, turn);
    expect(engines[served].started).toBe(5);
    expect(seen.get(setup.names.workNode(served))).toBe(4);
    expect(seen.get(setup.names.workAny)).toBe(1);
  });

  it("gives a targeted turn to any worker when its worker does not start it", async () => {
    const setup = cluster();
    const engines = { a: new PacedEngine(1, 0), b: new PacedEngine(1, 0) };
    const a = await worker(setup, "a", engines.a);
    const { engine, counts, link: gatewayLink } = await gateway(setup, { alive: () => [beat("a", 1), beat("b", 1)] });
    const seen = await watchSubjects(setup.names, gatewayLink);
    const turn = request({ conversation: "bob:s1" });
    await collect(engine, turn);
    expect(engines.a.started).toBe(1);
    // Worker a stops serving while its stale beat still shows a free sequence; b is there to take the turn.
    await a.server.close(0);
    await worker(setup, "b", engines.b);
    const parts = await collect(engine, turn);
    expect(parts.at(-1)).toMatchObject({ type: "finish", text: await expectedText(turn) });
    expect(parts.some((part) => part.type === "restart")).toBe(false);
    expect(engines.b.started).toBe(1);
    expect(seen.get(setup.names.workNode("a"))).toBe(1);
    expect(seen.get(setup.names.workAny)).toBe(2);
    expect(counts.restarts).toBe(0);
  });

  it("answers unavailable while NATS cannot be reached, or serves locally with fallback local", async () => {
    const setup = cluster({ nats: `nats://127.0.0.1:${await freePort()}` });
    const down = await link(setup.config, "gw", false);
    const remote = new RemoteEngine({ link: down, names: setup.names, config: setup.config, nodeId: "gw", local: undefined, alive: () => [], logger: silentLogger });
    const error = await failure(collect(remote, request()));
    expect(error).toMatchObject({ code: "unavailable", message: expect.stringMatching(/NATS server cannot be reached/) });
    const local = new EchoEngine({ parallel: 1, maxQueue: 1 });
    let fallbacks = 0;
    const withFallback = new RemoteEngine({
      link: down,
      names: setup.names,
      config: { ...setup.config, fallback: "local" },
      nodeId: "gw",
      local,
      alive: () => [],
      logger: silentLogger,
      onFallback: () => void (fallbacks += 1),
    });
    const parts = await collect(withFallback, request());
    expect(parts.at(-1)).toMatchObject({ type: "finish", text: await expectedText(request()) });
    expect(fallbacks).toBe(1);
  });
});
