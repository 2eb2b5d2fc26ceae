// The work queue against a real nats-server: remote engines (gateways) and work servers (workers) in one process, each
// on its own NATS connection, with echo engines paced so a generation lasts long enough to lose a worker mid-way.
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { clusterNames, type ClusterNames } from "../../src/cluster/cluster-names.js";
import type { NodeBeat } from "../../src/cluster/membership.js";
import { openNatsLink, type NatsLink } from "../../src/cluster/nats-connection.js";
import { RemoteEngine } from "../../src/cluster/remote-engine.js";
import { startWorkServer, type WorkServer } from "../../src/cluster/work-server.js";
import { clusterSchema, type ClusterConfig } from "../../src/config/cluster-schema.js";
import { ClawError } from "../../src/core/errors.js";
import type { ChatMessage, ToolDefinition } from "../../src/core/types.js";
import { EchoEngine } from "../../src/engine/echo/echo-engine.js";
import type { EngineInfo, EnginePart, EngineRequest, LanguageModel } from "../../src/engine/language-model.js";
import { silentLogger } from "../../src/logging/logger.js";
import { freePort } from "../helpers/free-port.js";
import { NatsServer } from "../helpers/nats-server.js";

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** An echo engine that waits `delayMs` before each text delta, can hang after some deltas, and counts aborts. */
class PacedEngine implements LanguageModel {
  readonly inner: EchoEngine;
  aborted = 0;
  started = 0;
  hangAfter: number | undefined;

  constructor(parallel: number, private readonly delayMs: number) {
    this.inner = new EchoEngine({ parallel, maxQueue: 8 });
  }

  get info(): EngineInfo {
    return this.inner.info;
  }

  load() {
    return this.inner.load();
  }

  countPromptTokens(messages: ChatMessage[], tools?: ToolDefinition[]): number {
    return this.inner.countPromptTokens(messages, tools);
  }

  async *stream(request: EngineRequest, options: { signal?: AbortSignal } = {}): AsyncGenerator<EnginePart> {
    this.started += 1;
    const signal = options.signal;
    signal?.addEventListener("abort", () => void (this.aborted += 1), { once: true });
    let deltas = 0;
    for await (const part of this.inner.stream(request, options)) {
      if (part.type === "text-delta") {
        if (this.hangAfter !== undefined && deltas >= this.hangAfter) {
          // Hung: nothing more until the worker gives the request up.
          while (!signal?.aborted) await sleep(20);
          return;
        }
        deltas += 1;
        await sleep(this.delayMs);
      }
      yield part;
    }
  }

  close() {
    return this.inner.close();
  }
}

const question = "alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu";
const request = (extra: Partial<EngineRequest> = {}): EngineRequest => ({
  messages: [{ role: "user", content: question }],
  params: { maxTokens: 100, temperature: 0 },
  ...extra,
});

/** What the echo engine answers on its own (the reference for a complete answer). */
async function expectedText(engineRequest: EngineRequest): Promise<string> {
  const parts = await collect(new EchoEngine({ parallel: 1, maxQueue: 1 }), engineRequest);
  const finish = parts.at(-1);
  if (finish?.type !== "finish") throw new Error("no finish");
  return finish.text;
}

async function collect(engine: LanguageModel, engineRequest: EngineRequest, options: { signal?: AbortSignal; onPart?(part: EnginePart): void } = {}) {
  const parts: EnginePart[] = [];
  for await (const part of engine.stream(engineRequest, { signal: options.signal })) {
    parts.push(part);
    options.onPart?.(part);
  }
  return parts;
}

async function failure(promise: Promise<unknown>): Promise<ClawError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof ClawError) return error;
    throw error;
  }
  throw new Error("expected a ClawError");
}

function beat(nodeId: string, free: number): NodeBeat {
  return { node_id: nodeId, roles: ["worker"], version: "test", model: "echo", context_size: 4096, free, total: free, queued: 0, cpu: 0, memory_bytes: 0, primary: false, started_at: 0, at: Date.now() };
}

describe("the cluster's work queue", () => {
  let server: NatsServer;
  let clusterCount = 0;
  let cleanup: (() => Promise<unknown>)[] = [];

  beforeAll(async () => {
    server = await NatsServer.start();
  });
  afterEach(async () => {
    for (const step of cleanup.reverse()) await step().catch(() => undefined);
    cleanup = [];
  });
  afterAll(async () => {
    await server?.close();
  });

  /** A fresh cluster (its own stream and subjects) with short waits. */
  function cluster(overrides: Record<string, unknown> = {}): { config: ClusterConfig; names: ClusterNames } {
    clusterCount += 1;
    const config = clusterSchema.parse({ nats: server.url, name: `wq${clusterCount}`, ack_wait_s: 1, request_timeout_s: 20, ...overrides });
    return { config, names: clusterNames(config) };
  }

  async function link(config: ClusterConfig, nodeId: string, wait = true): Promise<NatsLink> {
    const opened = openNatsLink(config, { nodeId, logger: silentLogger });
    cleanup.push(() => opened.close());
    if (wait) await opened.ready;
    return opened;
  }

  async function worker(setup: { config: ClusterConfig; names: ClusterNames }, nodeId: string, engine: LanguageModel) {
    const workerLink = await link(setup.config, nodeId);
    const served: string[] = [];
    const workServer: WorkServer = startWorkServer({ link: workerLink, names: setup.names, config: setup.config, nodeId, engine, logger: silentLogger, onServed: (outcome) => served.push(outcome) });
    cleanup.push(() => workServer.close(0));
    return { link: workerLink, server: workServer, served };
  }

  async function gateway(setup: { config: ClusterConfig; names: ClusterNames }, extra: { alive?: () => NodeBeat[]; local?: LanguageModel } = {}) {
    const gatewayLink = await link(setup.config, "gw");
    const counts = { restarts: 0, fallbacks: 0 };
    const engine = new RemoteEngine({
      link: gatewayLink,
      names: setup.names,
      config: setup.config,
      nodeId: "gw",
      local: extra.local,
      alive: extra.alive ?? (() => []),
      logger: silentLogger,
      onRestart: () => void (counts.restarts += 1),
      onFallback: () => void (counts.fallbacks += 1),
    });
    return { engine, counts, link: gatewayLink };
  }

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

  it("answers unavailable when no worker takes the request before its deadline", async () => {
    const setup = cluster({ request_timeout_s: 1 });
    const { engine } = await gateway(setup);
    const error = await failure(collect(engine, request()));
    expect(error.code).toBe("unavailable");
    expect(error.message).toMatch(/No worker took the request within 1 s/);
    expect(engine.load()).toEqual({ active: 0, queued: 0 });
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

  /** Counts the requests published on each work subject (a core subscription sees what the stream stores). */
  async function watchSubjects(names: ClusterNames, gatewayLink: NatsLink): Promise<Map<string, number>> {
    const seen = new Map<string, number>();
    const { connection } = await gatewayLink.ready;
    for (const subject of [names.workAny, names.workNode("*")]) {
      connection.subscribe(subject, { callback: (_error, message) => void seen.set(message.subject, (seen.get(message.subject) ?? 0) + 1) });
    }
    await connection.flush();
    return seen;
  }

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
