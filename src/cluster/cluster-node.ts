// A node's part in a cluster (config `cluster`): its NATS link, heartbeat, leader lease, work queue (as gateway and as
// worker) and the replicas of sessions and the knowledge base, opened in order and closed in reverse.
import os from "node:os";
import type { ClusterConfig, ClusterRole } from "../config/cluster-schema.js";
import { clawbotVersion } from "../core/version.js";
import type { DeferredEngine } from "../engine/deferred-engine.js";
import type { LanguageModel } from "../engine/language-model.js";
import type { KnowledgeService } from "../knowledge/knowledge-service.js";
import type { Logger } from "../logging/logger.js";
import type { RequestLedger } from "../store/request-ledger.js";
import type { SessionRepository } from "../store/session-repository.js";
import type { SessionStore } from "../store/session-store.js";
import type { AuditSink, AuditSinkContext } from "../audit/sinks/audit-sink.js";
import { ClusterAuditSink } from "./cluster-audit-sink.js";
import { clusterNames } from "./cluster-names.js";
import { startLeadership, type Leadership } from "./leadership.js";
import { startMembership, type Membership, type NodeBeat } from "./membership.js";
import { openNatsLink, type NatsLink } from "./nats-connection.js";
import { RemoteEngine } from "./remote-engine.js";
import { startKnowledgeReplica, type KnowledgeReplica } from "./replicated-knowledge.js";
import { startReplicatedRequestLedger, type ReplicatedRequestLedger } from "./replicated-request-ledger.js";
import { startReplicatedSessions, type ReplicatedSessions } from "./replicated-sessions.js";
import { startWorkServer, type WorkServer } from "./work-server.js";

export interface ClusterNodeOptions {
  config: ClusterConfig;
  /** The node id: `cluster.node_id`, else the top-level `node_id`. */
  nodeId: string;
  /** The node's own engine: it serves the work queue when the node is a worker. */
  localEngine: DeferredEngine;
  logger: Logger;
}

/** What the metrics and /readyz show of the cluster. */
export interface ClusterStatus {
  name: string;
  nodeId: string;
  roles: ClusterRole[];
  connected: boolean;
  reconnects: number;
  primary: boolean;
  leader: string | undefined;
  /** Live nodes and, of them, workers with a free sequence now. */
  alive: NodeBeat[];
  /** Generations started again on another worker, and requests served locally while NATS was down. */
  restarts: number;
  fallbacks: number;
  /** Generations this node's worker finished, by outcome (finish reason or error code). */
  served: Record<string, number>;
}

export interface ClusterNode {
  /** The pipeline's engine: generations go through the work queue. */
  readonly engine: LanguageModel;
  /** The node's session repository wrapped so that its changes reach every node and theirs reach it (the pipeline's). */
  replicateSessions(local: SessionRepository): SessionStore;
  /**
   * The node's MQTT request ledger with its changes sent to every node and theirs applied to it (kept on the stream for
   * `retentionMs`): the primary that takes the MQTT gateway over resumes and drops duplicates like the old one.
   */
  replicateRequestLedger(local: RequestLedger, retentionMs: number): Pick<ReplicatedRequestLedger, "ledger" | "eraser">;
  /** Applies the knowledge-base changes other nodes publish to this node's knowledge base. */
  replicateKnowledge(knowledge: KnowledgeService): void;
  /** The audit sink that ships this node's records to the cluster's audit stream (the audit trail adds it). */
  auditSink(context: AuditSinkContext): AuditSink;
  readonly leadership: Leadership;
  readonly membership: Membership;
  status(): ClusterStatus;
  /** Whether the node can serve requests: NATS up and a live worker (or `fallback: local` and the local model loaded). */
  ready(): boolean;
  /** Stops pulling work, lets the worker's requests end for up to `graceMs`, gives the lease up, closes the link. */
  close(graceMs: number): Promise<void>;
}

export function openClusterNode(options: ClusterNodeOptions): ClusterNode {
  const { config, nodeId, logger, localEngine } = options;
  const names = clusterNames(config);
  const roles = [...new Set(config.roles)];
  const worker = roles.includes("worker");
  const link: NatsLink = openNatsLink(config, { nodeId, logger });
  let restarts = 0;
  let fallbacks = 0;
  const served: Record<string, number> = {};
  const closers: [string, () => Promise<unknown>][] = [];
  try {
    const leadership = startLeadership({ link, names, config, nodeId, logger });
    closers.push(["leader lease", () => leadership.close()]);
    const membership = startMembership({
      link,
      names,
      config,
      nodeId,
      version: clawbotVersion,
      logger,
      state: () => {
        const load = worker && localEngine.ready ? localEngine.load() : { active: 0, queued: 0 };
        const total = worker && localEngine.ready ? localEngine.info.parallel : 0;
        return {
          model: worker ? localEngine.info.model : "",
          context_size: worker ? localEngine.info.contextSize : 0,
          free: Math.max(0, total - load.active),
          total,
          queued: load.queued,
          primary: leadership.isPrimary(),
        };
      },
    });
    closers.push(["heartbeat", () => membership.close()]);
    const workServer: WorkServer | undefined = worker ? startWorkServer({
          link,
          names,
          config,
          nodeId,
          engine: localEngine,
          logger,
          onServed: (outcome) => void (served[outcome] = (served[outcome] ?? 0) + 1),
        }) : undefined;
    const engine = new RemoteEngine({
      link,
      names,
      config,
      nodeId,
      local: worker ? localEngine : undefined,
      alive: () => membership.alive(),
      logger,
      onRestart: () => void (restarts += 1),
      onFallback: () => void (fallbacks += 1),
    });
    const hasWorker = () => membership.alive().some((beat) => beat.roles.includes("worker") && beat.total > 0);
    return {
      engine,
      replicateSessions(local) {
        const replicated: ReplicatedSessions = startReplicatedSessions({ link, names, nodeId, replicas: config.replicas, local, logger });
        closers.push(["session replica", () => replicated.close()]);
        return replicated.store;
      },
      replicateRequestLedger(local, retentionMs) {
        const replicated = startReplicatedRequestLedger({ link, names, nodeId, replicas: config.replicas, local, retentionMs, logger });
        closers.push(["request ledger replica", () => replicated.close()]);
        return replicated;
      },
      auditSink: (context) => new ClusterAuditSink({ link, names, nodeId, replicas: config.replicas }, context),
      replicateKnowledge(knowledge) {
        const replica: KnowledgeReplica = startKnowledgeReplica({ link, names, nodeId, replicas: config.replicas, knowledge, logger });
        closers.push(["knowledge replica", () => replica.close()]);
      },
      leadership,
      membership,
      status: () => ({
        name: config.name,
        nodeId,
        roles,
        connected: link.connected(),
        reconnects: link.reconnects(),
        primary: leadership.isPrimary(),
        leader: leadership.holder(),
        alive: membership.alive(),
        restarts,
        fallbacks,
        served: { ...served },
      }),
      ready: () => (link.connected() ? hasWorker() : config.fallback === "local" && worker && localEngine.ready),
      async close(graceMs) {
        // The worker first (its requests end or are cancelled, and go back to the queue), then the rest in reverse.
        await workServer?.close(graceMs).catch((error: unknown) => logger.error({ err: error }, "closing the cluster worker failed"));
        await engine.close();
        await closeAll([...closers].reverse(), logger);
        await link.close();
      },
    };
  } catch (error) {
    void closeAll([...closers].reverse(), logger).then(() => link.close());
    throw error;
  }
}

async function closeAll(steps: [string, () => Promise<unknown>][], logger: Logger): Promise<void> {
  for (const [name, step] of steps) {
    try {
      await step();
    } catch (error) {
      logger.error({ err: error, step: name }, "error while leaving the cluster");
    }
  }
}

/** The node's id in the cluster: `cluster.node_id`, else the top-level `node_id` made safe for subjects. */
export function clusterNodeId(config: ClusterConfig, nodeId: string): string {
  return config.node_id ?? (nodeId.replace(/[^A-Za-z0-9_-]/g, "-").slice(0, 64) || os.hostname());
}
