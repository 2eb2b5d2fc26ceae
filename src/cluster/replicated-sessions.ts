// Sessions in a cluster: the node's SQLite repository, each change published to the sessions stream and every other
// node's changes applied to it, so a conversation continues on any node.
import { createHash } from "node:crypto";
import { z } from "zod";
import type { ChatMessage } from "../core/types.js";
import type { Logger } from "../logging/logger.js";
import type { ExchangeTokens, SessionRepository } from "../store/session-repository.js";
import type { SessionEraser, SessionStore } from "../store/session-store.js";
import type { ClusterNames } from "./cluster-names.js";
import type { NatsLink } from "./nats-connection.js";
import { startReplicationLog, type ReplicationLog, type ReplicationLogStats } from "./replication-log.js";

export interface ReplicatedSessionsOptions {
  link: NatsLink;
  names: ClusterNames;
  nodeId: string;
  replicas: number;
  /** The node's own repository: local changes go to it first, others' changes are applied to it. */
  local: SessionRepository;
  logger: Logger;
  /** Outbox size while NATS is down (default 10,000 changes). */
  outboxLimit?: number;
}

export interface ReplicatedSessions {
  /** What the pipeline and the admin API use in place of the local repository. */
  readonly store: SessionStore;
  /** Changes published, applied, skipped, waiting (for metrics and tests). */
  stats(): ReplicationLogStats;
  /** Resolves once this node reads the stream (tests). */
  readonly started: Promise<void>;
  /** Resolves once every local change has been published (tests). */
  flushed(): Promise<void>;
  close(): Promise<void>;
}

const text = z.string().max(4_000_000);
const name = z.string().min(1).max(1024);
const toolCall = z.strictObject({ id: z.string().max(256), name: z.string().max(256), arguments: z.string().max(1_000_000) });
const step = z.strictObject({
  role: z.enum(["assistant", "tool"]),
  content: text,
  tool_calls: z.array(toolCall).max(256).optional(),
  tool_call_id: z.string().max(256).optional(),
  name: z.string().max(256).optional(),
});
const count = z.number().int().min(0).max(10_000_000);

/** A session change as it travels (snake_case, like every wire format of ours). */
export const sessionChangeSchema = z.discriminatedUnion("kind", [
  z.strictObject({
    kind: z.literal("exchange"),
    owner: name,
    session: name,
    user: text,
    assistant: text,
    tokens: z.strictObject({ user: count, assistant: count, counted_by: z.string().max(512) }).optional(),
    steps: z.array(step).max(2048),
  }),
  z.strictObject({ kind: z.literal("clear"), owner: name, session: name }),
  z.strictObject({ kind: z.literal("erase"), owner: name }),
]);
export type SessionChange = z.infer<typeof sessionChangeSchema>;

/** The subject key of an owner's changes: a digest, so an erasure can purge them from the stream without naming the owner. */
export function ownerKey(owner: string): string {
  return createHash("sha256").update(owner).digest("hex").slice(0, 32);
}

/**
 * An erasure hook for a replicated log keyed by owner. It runs inside the erasure's transaction (which deletes this
 * node's rows): the owner's earlier changes are purged from the stream first, so a node catching up never reads them,
 * then `change` tells the other nodes to delete theirs.
 */
export function ownerEraser<Change>(log: ReplicationLog<Change>, kind: string, change: (owner: string) => Change): SessionEraser {
  return {
    kind,
    erase(subject) {
      queueMicrotask(() => {
        log.purge(ownerKey(subject));
        log.publish(change(subject), ownerKey(subject));
      });
      return 0;
    },
  };
}

export function startReplicatedSessions(options: ReplicatedSessionsOptions): ReplicatedSessions {
  const { local, logger } = options;
  const log: ReplicationLog<SessionChange> = startReplicationLog<SessionChange>({
    link: options.link,
    stream: options.names.sessionsStream,
    subject: options.names.sessionsSubject,
    nodeId: options.nodeId,
    replicas: options.replicas,
    // A node that was down catches up from the stream for as long as sessions are kept.
    maxAgeMs: local.retentionMs,
    decode: (value) => sessionChangeSchema.parse(value),
    apply: (change) => applySessionChange(local, change),
    logger: logger.child({ replica: "sessions" }),
    ...(options.outboxLimit !== undefined ? { outboxLimit: options.outboxLimit } : {}),
  });

  const store: SessionStore = {
    history: (owner, session) => local.history(owner, session),
    recentHistory: (owner, session, tail) => local.recentHistory(owner, session, tail),
    appendExchange(owner, session, user, assistant, tokens, steps = []) {
      local.appendExchange(owner, session, user, assistant, tokens, steps);
      // The pipeline stores the exchange inside its record transaction, which may still roll back (the audit record
      // failed): published only once the transaction is over and the exchange is still there.
      const written = local.lastMessage(owner, session);
      queueMicrotask(() => {
        if (!written || !committed(local, owner, session, written)) return;
        log.publish(exchangeChange(owner, session, user, assistant, tokens, steps), ownerKey(owner));
      });
    },
    clear(owner, session) {
      local.clear(owner, session);
      // Deferred like an exchange's, so the changes go out in the order they were made.
      queueMicrotask(() => log.publish({ kind: "clear", owner, session }, ownerKey(owner)));
    },
    eraser: ownerEraser(log, "cluster_sessions", (owner) => ({ kind: "erase", owner })),
  };
  return { store, stats: () => log.stats(), started: log.started, flushed: () => log.flushed(), close: () => log.close() };
}

/** Applies another node's change to this node's repository. */
export function applySessionChange(local: SessionRepository, change: SessionChange): void {
  if (change.kind === "exchange") {
    const tokens = change.tokens ? { user: change.tokens.user, assistant: change.tokens.assistant, countedBy: change.tokens.counted_by } : undefined;
    local.appendExchange(change.owner, change.session, change.user, change.assistant, tokens, change.steps.map(fromWireStep));
  } else if (change.kind === "clear") {
    local.clear(change.owner, change.session);
  } else {
    local.deleteOwner(change.owner);
  }
}

function committed(local: SessionRepository, owner: string, session: string, written: { position: number; content: string }): boolean {
  const now = local.lastMessage(owner, session);
  return now !== undefined && (now.position > written.position || (now.position === written.position && now.content === written.content));
}

function exchangeChange(owner: string, session: string, user: string, assistant: string, tokens: ExchangeTokens | undefined, steps: readonly ChatMessage[]): SessionChange {
  return {
    kind: "exchange",
    owner,
    session,
    user,
    assistant,
    ...(tokens ? { tokens: { user: tokens.user, assistant: tokens.assistant, counted_by: tokens.countedBy } } : {}),
    steps: steps.map((message) => ({
      role: message.role === "tool" ? "tool" : "assistant",
      content: message.content,
      ...(message.toolCalls ? { tool_calls: message.toolCalls.map((call) => ({ id: call.id, name: call.name, arguments: call.arguments })) } : {}),
      ...(message.toolCallId !== undefined ? { tool_call_id: message.toolCallId } : {}),
      ...(message.name !== undefined ? { name: message.name } : {}),
    })),
  };
}

function fromWireStep(wire: z.infer<typeof step>): ChatMessage {
  const message: ChatMessage = { role: wire.role, content: wire.content };
  if (wire.tool_calls) message.toolCalls = wire.tool_calls;
  if (wire.tool_call_id !== undefined) message.toolCallId = wire.tool_call_id;
  if (wire.name !== undefined) message.name = wire.name;
  return message;
}
