// The inbound request ledger in a cluster: the node's SQLite ledger, each change published to the ledger stream and
// every other node's changes applied to it, so the primary that takes the MQTT gateway over resumes the requests the
// old one accepted and never answered, and drops redelivered duplicates of those it answered.
import { z } from "zod";
import type { Logger } from "../logging/logger.js";
import type { LedgerChange, LedgerKey, RequestLedger } from "../store/request-ledger.js";
import type { SessionEraser } from "../store/session-store.js";
import type { ClusterNames } from "./cluster-names.js";
import type { NatsLink } from "./nats-connection.js";
import { ownerEraser, ownerKey } from "./replicated-sessions.js";
import { startReplicationLog, type ReplicationLog, type ReplicationLogStats } from "./replication-log.js";

export interface ReplicatedRequestLedgerOptions {
  link: NatsLink;
  names: ClusterNames;
  nodeId: string;
  replicas: number;
  /** The node's own ledger: its changes are published, the other nodes' changes are applied to it. */
  local: RequestLedger;
  /** How long the stream keeps a change: as long as the MQTT gateways keep answered records (a node down longer misses them). */
  retentionMs: number;
  logger: Logger;
  /** Outbox size while NATS is down (default 10,000 changes). */
  outboxLimit?: number;
}

export interface ReplicatedRequestLedger {
  /** The ledger the gateways use: the local one, whose changes now reach the other nodes. */
  readonly ledger: RequestLedger;
  /** A subject's erasure reaches the other nodes' ledgers and the stream (the daemon's admin erasure runs it). */
  readonly eraser: SessionEraser;
  stats(): ReplicationLogStats;
  /** Resolves once this node reads the stream (tests). */
  readonly started: Promise<void>;
  /** Resolves once every local change has been published (tests). */
  flushed(): Promise<void>;
  close(): Promise<void>;
}

const gateway = z.string().min(1).max(65_535);
const owner = z.string().min(1).max(1024);
const requestId = z.string().min(1).max(128);
const key = { gateway, owner, request_id: requestId };
const epochMs = z.number().int().min(0).max(8.64e15);

/** A ledger change as it travels (snake_case, like every wire format of ours); bounded, so a hostile one is refused. */
export const ledgerChangeSchema = z.discriminatedUnion("kind", [
  z.strictObject({
    kind: z.literal("accepted"),
    ...key,
    request: z.string().max(4_000_000),
    principal: z.strictObject({
      subject: z.string().max(1024),
      roles: z.array(z.string().max(256)).max(256),
      scopes: z.array(z.string().max(256)).max(256),
      claims: z.record(z.string(), z.unknown()),
    }),
    expires_at: epochMs.optional(),
    reply_topic: z.string().min(1).max(65_535),
    correlation_data: z.string().base64().max(90_000).optional(),
    received_at: epochMs,
  }),
  z.strictObject({ kind: z.literal("recorded"), ...key, final_frame: z.string().max(4_000_000) }),
  z.strictObject({ kind: z.literal("answered"), ...key }),
  z.strictObject({ kind: z.literal("forgotten"), ...key }),
  z.strictObject({ kind: z.literal("erased"), owner }),
]);
export type LedgerWireChange = z.infer<typeof ledgerChangeSchema>;

export function startReplicatedRequestLedger(options: ReplicatedRequestLedgerOptions): ReplicatedRequestLedger {
  const { local, logger } = options;
  const log: ReplicationLog<LedgerWireChange> = startReplicationLog<LedgerWireChange>({
    link: options.link,
    stream: options.names.ledgerStream,
    subject: options.names.ledgerSubject,
    nodeId: options.nodeId,
    replicas: options.replicas,
    maxAgeMs: options.retentionMs,
    decode: (value) => ledgerChangeSchema.parse(value),
    apply: (change) => local.apply(fromWire(change)),
    logger: logger.child({ replica: "request ledger" }),
    ...(options.outboxLimit !== undefined ? { outboxLimit: options.outboxLimit } : {}),
  });
  // `record` runs inside the pipeline's transaction, which may still roll back (the audit record failed): every change
  // is sent once the current synchronous work is over, in the order made, and only if the ledger still holds it.
  const unsubscribe = local.onChange((change) =>
    queueMicrotask(() => {
      if (local.holds(change)) log.publish(toWire(change), ownerKey(ownerOf(change)));
    }),
  );
  const eraser = ownerEraser(log, "cluster_mqtt_requests", (owner) => ({ kind: "erased" as const, owner }));
  return {
    ledger: local,
    eraser,
    stats: () => log.stats(),
    started: log.started,
    flushed: () => log.flushed(),
    async close() {
      unsubscribe();
      await log.close();
    },
  };
}

function ownerOf(change: LedgerChange): string {
  if (change.kind === "erased") return change.owner;
  return change.kind === "accepted" ? change.entry.owner : change.key.owner;
}

export function toWire(change: LedgerChange): LedgerWireChange {
  if (change.kind === "erased") return { kind: "erased", owner: change.owner };
  if (change.kind === "accepted") {
    const { entry } = change;
    const { subject, roles, scopes, claims } = entry.principal;
    return {
      kind: "accepted",
      gateway: entry.gateway,
      owner: entry.owner,
      request_id: entry.requestId,
      request: entry.request,
      principal: { subject, roles, scopes, claims },
      ...(entry.expiresAt !== undefined ? { expires_at: entry.expiresAt } : {}),
      reply_topic: entry.replyTopic,
      ...(entry.correlationData ? { correlation_data: entry.correlationData.toString("base64") } : {}),
      received_at: change.receivedAt,
    };
  }
  const wireKey = { gateway: change.key.gateway, owner: change.key.owner, request_id: change.key.requestId };
  if (change.kind === "recorded") return { kind: "recorded", ...wireKey, final_frame: change.finalFrame };
  return { kind: change.kind, ...wireKey };
}

export function fromWire(change: LedgerWireChange): LedgerChange {
  if (change.kind === "erased") return { kind: "erased", owner: change.owner };
  const ledgerKey: LedgerKey = { gateway: change.gateway, owner: change.owner, requestId: change.request_id };
  if (change.kind === "accepted") {
    return {
      kind: "accepted",
      entry: {
        ...ledgerKey,
        request: change.request,
        principal: { ...change.principal, claims: change.principal.claims as Record<string, unknown> },
        ...(change.expires_at !== undefined ? { expiresAt: change.expires_at } : {}),
        replyTopic: change.reply_topic,
        ...(change.correlation_data !== undefined ? { correlationData: Buffer.from(change.correlation_data, "base64") } : {}),
      },
      receivedAt: change.received_at,
    };
  }
  if (change.kind === "recorded") return { kind: "recorded", key: ledgerKey, finalFrame: change.final_frame };
  return { kind: change.kind, key: ledgerKey };
}
