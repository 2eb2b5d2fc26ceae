// Knowledge-base changes in a cluster: `clawbot kb ingest`/`kb delete` publish what they changed to the knowledge
// stream; every running node applies the others' changes to its own replica.
import { randomUUID } from "node:crypto";
import { connect } from "nats";
import { z } from "zod";
import type { ClusterConfig } from "../config/cluster-schema.js";
import type { KnowledgeChange } from "../knowledge/apply-documents.js";
import type { KnowledgeService } from "../knowledge/knowledge-service.js";
import type { Logger } from "../logging/logger.js";
import { clusterNames, type ClusterNames } from "./cluster-names.js";
import { natsOptions, type NatsLink } from "./nats-connection.js";
import { encodeEnvelope, ensureReplicationStream, logSubject, startReplicationLog, type ReplicationLogStats } from "./replication-log.js";

export interface KnowledgeReplicaOptions {
  link: NatsLink;
  names: ClusterNames;
  nodeId: string;
  replicas: number;
  knowledge: KnowledgeService;
  logger: Logger;
}

export interface KnowledgeReplica {
  /** Changes applied and skipped (for metrics and tests). */
  stats(): ReplicationLogStats;
  /** Resolves once this node reads the stream (tests). */
  readonly started: Promise<void>;
  close(): Promise<void>;
}

const name = z.string().min(1).max(1024);
/** A knowledge-base change as it travels (snake_case, like every wire format of ours). */
export const knowledgeChangeSchema = z.discriminatedUnion("kind", [
  z.strictObject({
    kind: z.literal("documents"),
    collection: name,
    documents: z
      .array(z.strictObject({ doc_id: name, source: z.string().max(4096), file: z.string().max(4096), text: z.string().max(1_000_000), metadata: z.record(z.string(), z.string().max(65_536)) }))
      .max(100_000),
  }),
  z.strictObject({ kind: z.literal("delete_documents"), collection: name.optional(), doc_ids: z.array(name).max(100_000) }),
  z.strictObject({ kind: z.literal("delete_collection"), collection: name }),
]);
export type KnowledgeWireChange = z.infer<typeof knowledgeChangeSchema>;

/** The knowledge base keeps its changes in the stream for good: a node that joins later catches up from the start. */
const keepForever = 0;

export function startKnowledgeReplica(options: KnowledgeReplicaOptions): KnowledgeReplica {
  const log = startReplicationLog<KnowledgeWireChange>({
    link: options.link,
    stream: options.names.knowledgeStream,
    subject: options.names.knowledgeSubject,
    nodeId: options.nodeId,
    replicas: options.replicas,
    maxAgeMs: keepForever,
    decode: (value) => knowledgeChangeSchema.parse(value),
    apply: (change) => options.knowledge.applyChange(fromWire(change)),
    logger: options.logger.child({ replica: "knowledge" }),
  });
  return { stats: () => log.stats(), started: log.started, close: () => log.close() };
}

export function fromWire(change: KnowledgeWireChange): KnowledgeChange {
  if (change.kind === "documents") {
    return {
      kind: "documents",
      collection: change.collection,
      documents: change.documents.map((document) => ({ docId: document.doc_id, source: document.source, file: document.file, text: document.text, metadata: document.metadata })),
    };
  }
  if (change.kind === "delete_documents") return { kind: "delete_documents", collection: change.collection, docIds: change.doc_ids };
  return change;
}

export function toWire(change: KnowledgeChange): KnowledgeWireChange {
  if (change.kind === "documents") {
    return {
      kind: "documents",
      collection: change.collection,
      documents: change.documents.map((document) => ({ doc_id: document.docId, source: document.source, file: document.file, text: document.text, metadata: document.metadata })),
    };
  }
  if (change.kind === "delete_documents") return { kind: "delete_documents", ...(change.collection !== undefined ? { collection: change.collection } : {}), doc_ids: change.docIds };
  return change;
}

/** Payload bytes per message at most (NATS refuses over 1 MB by default): documents are batched under it. */
const batchBytes = 768 * 1024;

/**
 * Splits changes into messages under `batchBytes`: documents and deleted ids in batches. A single document larger than
 * that cannot travel and is returned in `tooLarge` (it stays on the node that ingested it).
 */
export function batchChanges(changes: readonly KnowledgeChange[]): { batches: KnowledgeWireChange[]; tooLarge: string[] } {
  const batches: KnowledgeWireChange[] = [];
  const tooLarge: string[] = [];
  const size = (value: unknown) => Buffer.byteLength(JSON.stringify(value));
  for (const change of changes) {
    const wire = toWire(change);
    if (wire.kind === "delete_collection") {
      batches.push(wire);
      continue;
    }
    const items: unknown[] = wire.kind === "documents" ? wire.documents : wire.doc_ids;
    let current: unknown[] = [];
    let bytes = 0;
    const emit = () => {
      if (current.length === 0) return;
      batches.push(wire.kind === "documents" ? { ...wire, documents: current as typeof wire.documents } : { ...wire, doc_ids: current as string[] });
      current = [];
      bytes = 0;
    };
    for (const item of items) {
      const itemBytes = size(item) + 1;
      if (itemBytes > batchBytes - 1024) {
        tooLarge.push(typeof item === "string" ? item : (item as { doc_id: string }).doc_id);
        continue;
      }
      if (bytes + itemBytes > batchBytes - 1024) emit();
      current.push(item);
      bytes += itemBytes;
    }
    emit();
  }
  return { batches, tooLarge };
}

/**
 * Publishes what a `kb` command changed to the cluster's knowledge stream (the CLI: it is not a node and has no link),
 * waiting for JetStream's acknowledgement of each message; throws when NATS cannot be reached within `timeoutMs`.
 */
export async function publishKnowledgeChanges(
  config: ClusterConfig,
  origin: string,
  changes: readonly KnowledgeChange[],
  options: { timeoutMs?: number } = {},
): Promise<{ messages: number; tooLarge: string[] }> {
  const { batches, tooLarge } = batchChanges(changes);
  if (batches.length === 0) return { messages: 0, tooLarge };
  const names = clusterNames(config);
  const connection = await connect({ ...natsOptions(config, `clawbot-${config.name}-${origin}-cli`), waitOnFirstConnect: false, maxReconnectAttempts: 0, timeout: options.timeoutMs ?? 5000 });
  try {
    const manager = await connection.jetstreamManager();
    await ensureReplicationStream(manager, { stream: names.knowledgeStream, subject: names.knowledgeSubject, replicas: config.replicas, maxAgeMs: keepForever });
    const jetstream = connection.jetstream();
    for (const batch of batches) {
      await jetstream.publish(logSubject(names.knowledgeSubject, origin), encodeEnvelope(origin, batch), { msgID: `${origin}-${randomUUID()}`, timeout: options.timeoutMs ?? 5000 });
    }
    return { messages: batches.length, tooLarge };
  } finally {
    await connection.drain().catch(() => connection.close());
  }
}
