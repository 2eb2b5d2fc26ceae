// The names a cluster uses in NATS: subjects, JetStream streams and KV buckets, each carrying the cluster's name.
import type { ClusterConfig } from "../config/cluster-schema.js";

export interface ClusterNames {
  /** Work-queue stream (retention: work queue) holding requests waiting for a worker. */
  workStream: string;
  /** Subject of requests any worker may take. */
  workAny: string;
  /** Subject of requests meant for one worker (its sequence holds the conversation); `workNode(id)`. */
  workNode(nodeId: string): string;
  /** Durable pull consumer every worker shares for `workAny`. */
  anyConsumer: string;
  /** Durable pull consumer of one worker for `workNode(id)`. */
  nodeConsumer(nodeId: string): string;
  /** Core subject a gateway publishes a request's cancellation on. */
  cancel(requestId: string): string;
  /** Prefix of the core subjects workers answer on (the gateway's inbox for each request is under it). */
  replyPrefix: string;
  /** KV bucket of heartbeats, one key per node. */
  nodesBucket: string;
  /** KV bucket holding the leader lease (key `leader`). */
  leaderBucket: string;
  /** Stream of session changes every node applies to its own database. */
  sessionsStream: string;
  /** Stream of knowledge-base changes every node applies to its own knowledge base. */
  knowledgeStream: string;
  /** Stream of every node's audit records. */
  auditStream: string;
  /** Stream of the inbound request ledger's changes (accepted, recorded, answered) every node applies to its own. */
  ledgerStream: string;
  /** Subject prefix of a replicated stream's messages: `<prefix>.<origin node>`. */
  sessionsSubject: string;
  knowledgeSubject: string;
  auditSubject: string;
  ledgerSubject: string;
}

export function clusterNames(config: Pick<ClusterConfig, "name">): ClusterNames {
  const name = config.name;
  const upper = name.toUpperCase().replace(/-/g, "_");
  const base = `clawbot.${name}`;
  return {
    workStream: `CLAWBOT_${upper}_WORK`,
    workAny: `${base}.work.any`,
    workNode: (nodeId) => `${base}.work.node.${nodeId}`,
    anyConsumer: "workers",
    nodeConsumer: (nodeId) => `worker-${nodeId}`,
    cancel: (requestId) => `${base}.cancel.${requestId}`,
    replyPrefix: `${base}.reply`,
    nodesBucket: `clawbot_${name}_nodes`,
    leaderBucket: `clawbot_${name}_leader`,
    sessionsStream: `CLAWBOT_${upper}_SESSIONS`,
    knowledgeStream: `CLAWBOT_${upper}_KNOWLEDGE`,
    auditStream: `CLAWBOT_${upper}_AUDIT`,
    sessionsSubject: `${base}.sessions`,
    knowledgeSubject: `${base}.knowledge`,
    auditSubject: `${base}.audit`,
    ledgerStream: `CLAWBOT_${upper}_LEDGER`,
    ledgerSubject: `${base}.ledger`,
  };
}
