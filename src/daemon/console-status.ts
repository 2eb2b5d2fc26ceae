// What `GET /admin/status` answers (the operator console): node, cluster, traffic series, gateways, audit chain, knowledge base, policy.
import type { Registry } from "prom-client";
import { AuditChainWatch, type AuditChainState } from "../audit/audit-chain-watch.js";
import type { ClusterNode } from "../cluster/cluster-node.js";
import { clawbotVersion } from "../core/version.js";
import type { LanguageModel } from "../engine/language-model.js";
import type { GatewayStatus } from "../gateways/gateway.js";
import type { KnowledgeService } from "../knowledge/knowledge-service.js";
import { createTrafficSampler, type TrafficSampler } from "../metrics/traffic-sampler.js";
import type { SqliteDatabase } from "../store/database.js";

export interface ConsoleStatusOptions {
  nodeId: string;
  /** The node's own engine (model, parallel sequences, admission queue). */
  engine: LanguageModel;
  /** Whether the node can serve requests (as /readyz says). */
  ready(): boolean;
  /** The node's metrics registry: the traffic series and the channel counters are read from it. */
  registry: Registry;
  /** The node's database: the audit chain is read from it; sampling stops once it is closed. */
  database: SqliteDatabase;
  /** Whether the audit ledger is on (`audit.enabled`). */
  auditEnabled: boolean;
  gatewayStatuses(): GatewayStatus[];
  cluster?: Pick<ClusterNode, "status" | "membership">;
  knowledge?: Pick<KnowledgeService, "database">;
  /** The policy in force, when the node has one. */
  policy?(): { digest: string; origin: string } | undefined;
  /** Milliseconds between traffic samples (2 s by default). */
  trafficIntervalMs?: number;
  clock?(): number;
}

export interface ConsoleStatus {
  read(): Promise<Record<string, unknown>>;
  close(): void;
}

export function createConsoleStatus(options: ConsoleStatusOptions): ConsoleStatus {
  const clock = options.clock ?? Date.now;
  const startedAt = clock();
  const queueDepth = () => options.engine.load().queued;
  const traffic: TrafficSampler = createTrafficSampler({
    registry: options.registry,
    queueDepth,
    running: () => options.database.open,
    ...(options.trafficIntervalMs !== undefined ? { intervalMs: options.trafficIntervalMs } : {}),
    clock,
  });
  const chain = options.auditEnabled ? new AuditChainWatch(options.database) : undefined;
  // Counting a large knowledge base's chunks takes a while: counted at most every 10 s, however many consoles poll.
  const knowledge = options.knowledge;
  const collections = knowledge ? cached(knowledgeCollectionsTtlMs, clock, () => knowledgeCollections(knowledge)) : undefined;
  return {
    read: async () => ({
      node: nodeSection(options, startedAt, clock()),
      cluster: options.cluster ? clusterSection(options.cluster) : null,
      traffic: { interval_s: traffic.intervalSeconds, samples: traffic.samples() },
      gateways: await gatewaySection(options),
      audit: auditSection(chain),
      knowledge: collections ? { collections: collections() } : null,
      policy: policySection(options),
    }),
    close: () => traffic.close(),
  };
}

const knowledgeCollectionsTtlMs = 10_000;

/** `compute`'s value, computed again once it is older than `ttlMs`. */
function cached<T>(ttlMs: number, clock: () => number, compute: () => T): () => T {
  let value: { at: number; result: T } | undefined;
  return () => {
    const now = clock();
    if (!value || now - value.at >= ttlMs) value = { at: now, result: compute() };
    return value.result;
  };
}

function nodeSection(options: ConsoleStatusOptions, startedAt: number, now: number): Record<string, unknown> {
  const { info } = options.engine;
  const load = options.engine.load();
  return {
    id: options.nodeId,
    version: clawbotVersion,
    started_at: new Date(startedAt).toISOString(),
    uptime_s: Math.round((now - startedAt) / 1000),
    ready: options.ready(),
    model: info.model,
    engine: info.engine,
    backend: info.backend,
    context_size: info.contextSize,
    parallel: info.parallel,
    active_sequences: load.active,
    free_sequences: Math.max(0, info.parallel - load.active),
    queue_depth: load.queued,
    max_queue: info.maxQueue,
  };
}

function clusterSection(cluster: Pick<ClusterNode, "status" | "membership">): Record<string, unknown> {
  const status = cluster.status();
  return {
    name: status.name,
    node_id: status.nodeId,
    connected: status.connected,
    primary: status.primary,
    leader: status.leader ?? null,
    nodes: cluster.membership.entries().map(({ beat, alive, age_s }) => ({
      node_id: beat.node_id,
      alive,
      age_s,
      primary: beat.primary,
      roles: beat.roles,
      version: beat.version,
      model: beat.model,
      free: beat.free,
      total: beat.total,
      queued: beat.queued,
      cpu: beat.cpu,
      memory_bytes: beat.memory_bytes,
    })),
  };
}

/** Each gateway's status with its type's channel counters (frames refused, abnormal closes) from the metrics. */
async function gatewaySection(options: ConsoleStatusOptions): Promise<Record<string, unknown>[]> {
  const [refused, abnormal] = await Promise.all([
    countsByGateway(options.registry, "clawbot_gateway_frame_errors_total"),
    countsByGateway(options.registry, "clawbot_gateway_abnormal_disconnects_total"),
  ]);
  return options.gatewayStatuses().map((status) => ({
    type: status.type,
    name: status.name,
    state: status.state,
    healthy: status.healthy,
    connections: status.connections,
    frames_refused: refused.get(status.type) ?? 0,
    abnormal_closes: abnormal.get(status.type) ?? 0,
  }));
}

async function countsByGateway(registry: Registry, name: string): Promise<Map<string, number>> {
  const counts = new Map<string, number>();
  const metric = registry.getSingleMetric(name);
  if (!metric) return counts;
  for (const value of (await metric.get()).values) {
    const gateway = String(value.labels.gateway ?? "");
    counts.set(gateway, (counts.get(gateway) ?? 0) + value.value);
  }
  return counts;
}

function auditSection(chain: AuditChainWatch | undefined): ({ enabled: true } & AuditChainState) | { enabled: false } {
  return chain ? { enabled: true, ...chain.check() } : { enabled: false };
}

function knowledgeCollections(knowledge: Pick<KnowledgeService, "database">): { name: string; documents: number; chunks: number; vectors: number }[] {
  return knowledge.database.stats().collections.map(({ name, documents, chunks, vectors }) => ({ name, documents, chunks, vectors }));
}

function policySection(options: ConsoleStatusOptions): { digest: string; origin: string } | null {
  const policy = options.policy?.();
  return policy ? { digest: policy.digest, origin: policy.origin } : null;
}
