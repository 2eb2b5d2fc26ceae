// Shared by the work-queue tests: a real nats-server, gateways (remote engines) and workers (work servers) in one
// process, each on its own NATS connection, with echo engines paced so a generation lasts long enough to lose a worker.
import { afterAll, afterEach, beforeAll } from "vitest";
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
import { NatsServer } from "../helpers/nats-server.js";

export type ClusterSetup = { config: ClusterConfig; names: ClusterNames };

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** An echo engine that waits `delayMs` before each text delta, can hang after some deltas, and counts aborts. */
export class PacedEngine implements LanguageModel {
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

export const question = "alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu";
export const request = (extra: Partial<EngineRequest> = {}): EngineRequest => ({
  messages: [{ role: "user", content: question }],
  params: { maxTokens: 100, temperature: 0 },
  ...extra,
});

/** What the echo engine answers on its own (the reference for a complete answer). */
export async function expectedText(engineRequest: EngineRequest): Promise<string> {
  const parts = await collect(new EchoEngine({ parallel: 1, maxQueue: 1 }), engineRequest);
  const finish = parts.at(-1);
  if (finish?.type !== "finish") throw new Error("no finish");
  return finish.text;
}

export async function collect(engine: LanguageModel, engineRequest: EngineRequest, options: { signal?: AbortSignal; onPart?(part: EnginePart): void } = {}) {
  const parts: EnginePart[] = [];
  for await (const part of engine.stream(engineRequest, { signal: options.signal })) {
    parts.push(part);
    options.onPart?.(part);
  }
  return parts;
}

export async function failure(promise: Promise<unknown>): Promise<ClawError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof ClawError) return error;
    throw error;
  }
  throw new Error("expected a ClawError");
}

export function beat(nodeId: string, free: number): NodeBeat {
  return { node_id: nodeId, roles: ["worker"], version: "test", model: "echo", context_size: 4096, free, total: free, queued: 0, cpu: 0, memory_bytes: 0, primary: false, started_at: 0, at: Date.now() };
}

/** Counts the requests published on each work subject (a core subscription sees what the stream stores). */
export async function watchSubjects(names: ClusterNames, gatewayLink: NatsLink): Promise<Map<string, number>> {
  const seen = new Map<string, number>();
  const { connection } = await gatewayLink.ready;
  for (const subject of [names.workAny, names.workNode("*")]) {
    connection.subscribe(subject, { callback: (_error, message) => void seen.set(message.subject, (seen.get(message.subject) ?? 0) + 1) });
  }
  await connection.flush();
  return seen;
}

/** Registers the hooks (one nats-server per file, everything a test opened closed after it) and returns the makers. */
export function useWorkQueueCluster() {
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
  function cluster(overrides: Record<string, unknown> = {}): ClusterSetup {
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

  async function worker(setup: ClusterSetup, nodeId: string, engine: LanguageModel) {
    const workerLink = await link(setup.config, nodeId);
    const served: string[] = [];
    const workServer: WorkServer = startWorkServer({ link: workerLink, names: setup.names, config: setup.config, nodeId, engine, logger: silentLogger, onServed: (outcome) => served.push(outcome) });
    cleanup.push(() => workServer.close(0));
    return { link: workerLink, server: workServer, served };
  }

  async function gateway(setup: ClusterSetup, extra: { alive?: () => NodeBeat[]; local?: LanguageModel } = {}) {
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

  return { cluster, link, worker, gateway };
}
