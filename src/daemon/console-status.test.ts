// Tests for the console's status sections that the integration tests do not reach: a cluster's heartbeats, audit off, cached knowledge counts.
import { describe, expect, it } from "vitest";
import { EchoEngine } from "../engine/echo/echo-engine.js";
import { silentLogger } from "../logging/logger.js";
import { createNodeMetrics } from "../metrics/node-metrics.js";
import { openMemoryDatabase } from "../store/database.js";
import { createConsoleStatus, type ConsoleStatusOptions } from "./console-status.js";

type Cluster = NonNullable<ConsoleStatusOptions["cluster"]>;

const beat = (nodeId: string, primary: boolean) => ({
  node_id: nodeId, roles: ["gateway", "worker"], version: "0.1.0", model: "qwen", context_size: 4096, free: 1, total: 2, queued: 3,
  cpu: 0.25, memory_bytes: 1024, primary, started_at: 1, at: 2,
});

describe("createConsoleStatus", () => {
  it("lists every node of the heartbeats, alive or gone, and says when the audit ledger is off", async () => {
    const engine = new EchoEngine({ parallel: 2, maxQueue: 8 });
    const metrics = createNodeMetrics({ enabled: false, port: 0, host: "127.0.0.1", path: "/metrics" }, { engine, logger: silentLogger });
    const cluster = {
      status: () => ({ name: "ward", nodeId: "n1", roles: ["gateway", "worker"], connected: true, reconnects: 0, primary: true, leader: "n1", alive: [], restarts: 0, fallbacks: 0, served: {} }),
      membership: { entries: () => [{ beat: beat("n1", true), alive: true, age_s: 0.5 }, { beat: beat("n2", false), alive: false, age_s: 40 }] },
    } as unknown as Cluster;
    const database = openMemoryDatabase();
    let counted = 0;
    let now = 1_000;
    const knowledge = { database: { stats: () => ((counted += 1), { collections: [{ name: "guides", documents: counted, chunks: 2, vectors: 0 }] }) } } as unknown as ConsoleStatusOptions["knowledge"];
    const status = createConsoleStatus({
      nodeId: "n1", engine, ready: () => true, registry: metrics.registry, database, auditEnabled: false, gatewayStatuses: () => [], cluster, knowledge,
      trafficIntervalMs: 3_600_000, clock: () => now,
    });
    try {
      const body = (await status.read()) as Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
      expect(body.cluster).toMatchObject({ name: "ward", node_id: "n1", connected: true, primary: true, leader: "n1" });
      expect(body.cluster.nodes).toEqual([
        { node_id: "n1", alive: true, age_s: 0.5, primary: true, roles: ["gateway", "worker"], version: "0.1.0", model: "qwen", free: 1, total: 2, queued: 3, cpu: 0.25, memory_bytes: 1024 },
        expect.objectContaining({ node_id: "n2", alive: false, age_s: 40, primary: false }),
      ]);
      expect(body.audit).toEqual({ enabled: false });
      expect(body.node).toMatchObject({ id: "n1", parallel: 2, free_sequences: 2, max_queue: 8, queue_depth: 0 });
      expect(body.policy).toBeNull();
      // Knowledge counts are kept 10 s.
      expect(body.knowledge.collections[0].documents).toBe(1);
      now += 5_000;
      expect(((await status.read()) as { knowledge: { collections: { documents: number }[] } }).knowledge.collections[0]!.documents).toBe(1);
      now += 5_000;
      expect(((await status.read()) as { knowledge: { collections: { documents: number }[] } }).knowledge.collections[0]!.documents).toBe(2);
    } finally {
      status.close();
      await metrics.close();
      database.close();
    }
  });
});
