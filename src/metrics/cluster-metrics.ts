// Cluster metrics, read from the cluster node's status() on each scrape: NATS link, live nodes, free sequences, primary, restarts.
import { Counter, Gauge, type Registry } from "prom-client";
import { StatusCounter } from "./status-counter.js";

/**
 * What the metrics read of `ClusterNode.status()` (src/cluster/cluster-node.ts). Declared here, not imported: the
 * cluster sits above the metrics; the daemon passes `cluster.status`, so the compiler still checks they agree.
 */
export interface ClusterMetricsStatus {
  connected: boolean;
  reconnects: number;
  primary: boolean;
  /** Live nodes' heartbeats. */
  alive: readonly { roles: readonly string[]; free: number }[];
  restarts: number;
  fallbacks: number;
  /** Generations this node's worker finished, by outcome (the finish reason or the error code). */
  served: Readonly<Record<string, number>>;
}

/** Registered only when the node is in a cluster (config `cluster`): a node running alone exports none of these. */
export function clusterMetrics(registry: Registry, status: () => ClusterMetricsStatus): void {
  const reconnects = new StatusCounter(
    new Counter({ name: "clawbot_cluster_nats_reconnects_total", help: "Times the node's NATS connection was re-established after it was lost.", registers: [] }),
  );
  const nodesAlive = new Gauge({ name: "clawbot_cluster_nodes_alive", help: "Nodes whose heartbeat is recent (within 3 × cluster.heartbeat_s), this one included.", registers: [] });
  const freeSequences = new Gauge({
    name: "clawbot_cluster_workers_free_sequences",
    help: "Free sequences over the live workers of the cluster, as their last heartbeats said: the work the cluster can start now.",
    registers: [],
  });
  const primary = new Gauge({ name: "clawbot_cluster_primary", help: "1 while this node holds the leader lease (the primary), else 0.", registers: [] });
  const restarts = new StatusCounter(
    new Counter({ name: "clawbot_cluster_restarts_total", help: "Generations started again on another worker because theirs stopped answering (worker_lost).", registers: [] }),
  );
  const fallbacks = new StatusCounter(
    new Counter({ name: "clawbot_cluster_local_fallbacks_total", help: "Requests served by this node's own model because NATS could not be reached (cluster.fallback: local).", registers: [] }),
  );
  const served = new StatusCounter(
    new Counter({
      name: "clawbot_cluster_served_total",
      help: "Generations this node's worker took from the work queue and finished, by outcome (finish reason or error code).",
      labelNames: ["outcome"],
      registers: [],
    }),
  );
  // The first gauge reads the status once per scrape and sets the others (registered after it).
  new Gauge({
    name: "clawbot_cluster_nats_connected",
    help: "1 while the node is connected to a NATS server, else 0.",
    registers: [registry],
    collect() {
      let now: ClusterMetricsStatus;
      try {
        now = status();
      } catch {
        return;
      }
      this.set(now.connected ? 1 : 0);
      reconnects.update({}, now.reconnects);
      nodesAlive.set(now.alive.length);
      freeSequences.set(now.alive.filter((beat) => beat.roles.includes("worker")).reduce((sum, beat) => sum + Math.max(0, beat.free), 0));
      primary.set(now.primary ? 1 : 0);
      restarts.update({}, now.restarts);
      fallbacks.update({}, now.fallbacks);
      for (const [outcome, count] of Object.entries(now.served)) served.update({ outcome }, count);
    },
  });
  for (const metric of [reconnects.counter, nodesAlive, freeSequences, primary, restarts.counter, fallbacks.counter, served.counter]) registry.registerMetric(metric);
}
