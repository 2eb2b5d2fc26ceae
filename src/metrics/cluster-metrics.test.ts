// The cluster metrics from a fake status(): values at each scrape, counters that follow the status' totals, a failed read, absent when alone, one real scrape.
import { describe, expect, it } from "vitest";
import type { Registry } from "prom-client";
import { EchoEngine } from "../engine/echo/echo-engine.js";
import { silentLogger } from "../logging/logger.js";
import type { ClusterMetricsStatus } from "./cluster-metrics.js";
import { createNodeMetrics } from "./node-metrics.js";

const disabled = { enabled: false, port: 0, host: "127.0.0.1", path: "/metrics" };

const beat = (roles: string[], free: number) => ({ roles, free });

function clusterStatus(overrides: Partial<ClusterMetricsStatus> = {}): ClusterMetricsStatus {
  return {
    connected: true,
    reconnects: 0,
    primary: false,
    alive: [beat(["gateway", "worker"], 2), beat(["worker"], 3), beat(["gateway"], 0)],
    restarts: 0,
    fallbacks: 0,
    served: {},
    ...overrides,
  };
}

async function nodeMetrics(cluster?: () => ClusterMetricsStatus, config = disabled) {
  const metrics = createNodeMetrics(config, { engine: new EchoEngine({ parallel: 1, maxQueue: 1 }), logger: silentLogger });
  await metrics.start({ gateways: [], ...(cluster ? { cluster } : {}) });
  return metrics;
}

async function values(registry: Registry): Promise<Map<string, number>> {
  const found = new Map<string, number>();
  for (const metric of await registry.getMetricsAsJSON()) {
    if (!metric.name.startsWith("clawbot_cluster_")) continue;
    for (const entry of metric.values as { value: number }[]) found.set(metric.name, entry.value);
  }
  return found;
}

describe("cluster metrics", () => {
  it("read the cluster's status at each scrape", async () => {
    let status = clusterStatus();
    const metrics = await nodeMetrics(() => status);
    expect(Object.fromEntries(await values(metrics.registry))).toEqual({
      clawbot_cluster_nats_connected: 1,
      clawbot_cluster_nats_reconnects_total: 0,
      clawbot_cluster_nodes_alive: 3,
      // Workers only: the gateway-only node's sequences are none of the cluster's capacity.
      clawbot_cluster_workers_free_sequences: 5,
      clawbot_cluster_primary: 0,
      clawbot_cluster_restarts_total: 0,
      clawbot_cluster_local_fallbacks_total: 0,
    });
    status = clusterStatus({ connected: false, reconnects: 2, primary: true, alive: [beat(["worker"], 1)], restarts: 4, fallbacks: 1, served: { stop: 3 } });
    expect(Object.fromEntries(await values(metrics.registry))).toEqual({
      clawbot_cluster_nats_connected: 0,
      clawbot_cluster_nats_reconnects_total: 2,
      clawbot_cluster_nodes_alive: 1,
      clawbot_cluster_workers_free_sequences: 1,
      clawbot_cluster_served_total: 3,
      clawbot_cluster_primary: 1,
      clawbot_cluster_restarts_total: 4,
      clawbot_cluster_local_fallbacks_total: 1,
    });
    await metrics.close();
  });

  it("keep counting across scrapes without counting a total twice", async () => {
    let restarts = 1;
    const metrics = await nodeMetrics(() => clusterStatus({ restarts }));
    expect((await values(metrics.registry)).get("clawbot_cluster_restarts_total")).toBe(1);
    expect((await values(metrics.registry)).get("clawbot_cluster_restarts_total")).toBe(1);
    restarts = 3;
    expect((await values(metrics.registry)).get("clawbot_cluster_restarts_total")).toBe(3);
    await metrics.close();
  });

  it("are absent when the node runs alone", async () => {
    const metrics = await nodeMetrics();
    expect((await values(metrics.registry)).size).toBe(0);
    await metrics.close();
  });

  it("keep the last values when a status read throws, and the rest of the scrape still answers", async () => {
    let failing = false;
    const metrics = await nodeMetrics(() => {
      if (failing) throw new Error("membership stopped");
      return clusterStatus({ primary: true, restarts: 2 });
    });
    const before = await values(metrics.registry);
    failing = true;
    expect(await values(metrics.registry)).toEqual(before);
    expect(await metrics.registry.metrics()).toContain("clawbot_requests_running");
    await metrics.close();
  });

  it("come out of the real listener in the exposition format", async () => {
    const metrics = await nodeMetrics(() => clusterStatus({ primary: true, restarts: 2 }), { ...disabled, enabled: true });
    try {
      const response = await fetch(`http://127.0.0.1:${metrics.port}/metrics`);
      expect(response.status).toBe(200);
      const text = await response.text();
      expect(text).toMatch(/^clawbot_cluster_primary 1$/m);
      expect(text).toMatch(/^clawbot_cluster_restarts_total 2$/m);
      expect(text).toMatch(/^clawbot_cluster_workers_free_sequences 5$/m);
      expect(text).toContain("# TYPE clawbot_cluster_nats_reconnects_total counter");
    } finally {
      await metrics.close();
    }
  });
});
