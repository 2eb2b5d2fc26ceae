// A replicated change log on a JetStream stream: each node publishes its own changes (from a bounded outbox) and a
// durable consumer per node applies the other nodes' changes in order, resuming where it left off.
import { randomUUID } from "node:crypto";
import { AckPolicy, DeliverPolicy, RetentionPolicy, StorageType, nanos, type ConsumerMessages, type JetStreamManager, type JsMsg } from "nats";
import type { Logger } from "../logging/logger.js";
import type { NatsLink, NatsSession } from "./nats-connection.js";

export interface ReplicationLogOptions<Change> {
  link: NatsLink;
  /** The stream's name and its subject prefix: messages go to `<subject>.<origin node>.<key>`. */
  stream: string;
  subject: string;
  nodeId: string;
  replicas: number;
  /** How long the stream keeps a change (a node down longer than this misses it); 0 keeps them all. */
  maxAgeMs: number;
  /** Checks a decoded JSON change; throws when it is not one (the message is then skipped). */
  decode(value: unknown): Change;
  /** Applies another node's change to this node; a throw skips it (logged), never stops the log. */
  apply(change: Change, origin: string): void | Promise<void>;
  logger: Logger;
  /** Operations kept while NATS cannot be reached (default 10,000); past it the oldest are dropped (and counted). */
  outboxLimit?: number;
}

export interface ReplicationLogStats {
  published: number;
  applied: number;
  /** Messages from other nodes that were malformed or failed to apply. */
  skipped: number;
  /** Operations waiting in the outbox, and those dropped from a full one. */
  pending: number;
  dropped: number;
}

export interface ReplicationLog<Change> {
  /** Queues a change for the other nodes; `key` partitions the subject (so `purge(key)` can remove a key's history). */
  publish(change: Change, key?: string): void;
  /** Queues, in order with the publishes, the removal from the stream of every earlier change under `key`. */
  purge(key: string): void;
  stats(): ReplicationLogStats;
  /** Resolves once the stream and this node's consumer exist and the first pull is running (for tests). */
  readonly started: Promise<void>;
  /** Resolves when the outbox is empty (for tests and shutdown). */
  flushed(): Promise<void>;
  /** Stops applying; tries to send what the outbox holds for up to `graceMs` (default 2 s), then stops. */
  close(graceMs?: number): Promise<void>;
}

/** One message of the log, as JSON: who made the change and the change. */
export interface LogEnvelope {
  v: 1;
  origin: string;
  change: unknown;
}

type Decoded<Change> = { ok: true; origin: string; change: Change } | { ok: false; reason: string };

/** Decodes a message's payload; never throws (a hostile or malformed payload is a reason, not an exception). */
export function decodeEnvelope<Change>(data: Uint8Array, decode: (value: unknown) => Change): Decoded<Change> {
  let value: unknown;
  try {
    value = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(data));
  } catch {
    return { ok: false, reason: "not JSON" };
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) return { ok: false, reason: "not an object" };
  const envelope = value as Partial<LogEnvelope>;
  if (envelope.v !== 1) return { ok: false, reason: "unknown version" };
  if (typeof envelope.origin !== "string" || !/^[A-Za-z0-9_-]{1,64}$/.test(envelope.origin)) return { ok: false, reason: "bad origin" };
  try {
    return { ok: true, origin: envelope.origin, change: decode(envelope.change) };
  } catch (error) {
    return { ok: false, reason: `bad change: ${(error as Error).message?.slice(0, 200) ?? "invalid"}` };
  }
}

type Operation = { kind: "publish"; subject: string; data: Uint8Array; id: string } | { kind: "purge"; filter: string };

const encoder = new TextEncoder();
/** The one subject token a key may be (NATS tokens cannot hold dots, spaces or wildcards). */
const safeKey = (key: string) => key.replace(/[^A-Za-z0-9_-]/g, "_").slice(0, 64) || "_";

export function startReplicationLog<Change>(options: ReplicationLogOptions<Change>): ReplicationLog<Change> {
  const { link, stream, subject, nodeId, logger } = options;
  const limit = options.outboxLimit ?? 10_000;
  const durable = `node-${nodeId}`;
  const outbox: Operation[] = [];
  const counts = { published: 0, applied: 0, skipped: 0, dropped: 0 };
  let closed = false;
  let flushing: Promise<void> | undefined;
  let retryTimer: NodeJS.Timeout | undefined;
  let messages: ConsumerMessages | undefined;
  /** Stream sequence last applied: a redelivery of an applied message (ack lost) is not applied twice in this process. */
  let lastSequence = 0;
  let markStarted: () => void = () => undefined;
  const started = new Promise<void>((resolve) => (markStarted = resolve));
  let stopClosing: (value: undefined) => void = () => undefined;
  const closing = new Promise<undefined>((resolve) => (stopClosing = resolve));
  const waiters: (() => void)[] = [];

  const enqueue = (operation: Operation) => {
    outbox.push(operation);
    if (outbox.length > limit) {
      outbox.shift();
      counts.dropped += 1;
      if (counts.dropped === 1 || counts.dropped % 1000 === 0) logger.warn({ stream, dropped: counts.dropped }, "replication outbox full: the oldest changes were dropped (they stay on this node only)");
    }
    flush();
  };

  // Sends the outbox in order, one at a time; on a failure it waits for the link (or a second) and tries again.
  const flush = () => {
    if (flushing || outbox.length === 0) return;
    flushing = (async () => {
      while (outbox.length > 0) {
        const session = link.current();
        if (!session) return;
        const operation = outbox[0] as Operation;
        try {
          await ensureStream(session.manager);
          const maxPayload = session.connection.info?.max_payload ?? 1024 * 1024;
          if (operation.kind === "publish" && operation.data.length > maxPayload - 4096) {
            // Never accepted by the server: dropped rather than blocking every later change.
            counts.dropped += 1;
            logger.warn({ stream, bytes: operation.data.length, max_payload: maxPayload }, "a replicated change is larger than NATS's max payload: not replicated");
          } else if (operation.kind === "publish") {
            // The message id makes a retry after a lost acknowledgement a duplicate JetStream drops.
            await session.jetstream.publish(operation.subject, operation.data, { msgID: operation.id, timeout: 5000 });
            counts.published += 1;
          } else {
            await session.manager.streams.purge(stream, { filter: operation.filter });
          }
          if (outbox[0] === operation) outbox.shift();
        } catch (error) {
          logger.warn({ err: error, stream, pending: outbox.length }, "publishing a replicated change failed; retrying");
          if (!closed) retryTimer = setTimeout(flush, 1000);
          return;
        }
      }
    })().finally(() => {
      flushing = undefined;
      waiters.splice(0).forEach((wake) => wake());
      if (outbox.length > 0 && link.connected() && !closed && !retryTimer) flush();
    });
  };
  const unsubscribe = link.onChange((up) => {
    if (up) {
      clearTimeout(retryTimer);
      retryTimer = undefined;
      flush();
    }
  });

  let streamReady = false;
  const ensureStream = async (manager: JetStreamManager) => {
    if (streamReady) return;
    await ensureReplicationStream(manager, options);
    streamReady = true;
  };

  const handle = async (message: JsMsg) => {
    if (message.seq <= lastSequence) {
      message.ack();
      return;
    }
    const decoded = decodeEnvelope(message.data, options.decode);
    if (!decoded.ok) {
      counts.skipped += 1;
      logger.warn({ stream, subject: message.subject.slice(0, 200), sequence: message.seq, reason: decoded.reason }, "skipped a malformed replicated change");
    } else if (decoded.origin !== nodeId) {
      message.working();
      try {
        await options.apply(decoded.change, decoded.origin);
        counts.applied += 1;
      } catch (error) {
        counts.skipped += 1;
        logger.warn({ err: error, stream, origin: decoded.origin, sequence: message.seq }, "a replicated change failed to apply; skipped");
      }
    }
    lastSequence = message.seq;
    message.ack();
  };

  const ensureConsumer = async (session: NatsSession) => {
    await ensureStream(session.manager);
    try {
      await session.manager.consumers.info(stream, durable);
    } catch {
      await session.manager.consumers.add(stream, {
        durable_name: durable,
        ack_policy: AckPolicy.Explicit,
        deliver_policy: DeliverPolicy.All,
        ack_wait: nanos(60_000),
        max_ack_pending: 256,
      });
    }
  };

  // The consumer loop: (re)creates the stream and this node's durable consumer, then applies messages in order until
  // closed; any failure (NATS gone, stream deleted) waits a second and starts again where the consumer left off.
  const consuming = (async () => {
    const session = await Promise.race([link.ready, closing]);
    if (!session) return;
    while (!closed) {
      try {
        await ensureConsumer(session);
        const consumer = await session.jetstream.consumers.get(stream, durable);
        messages = await consumer.consume({ max_messages: 64 });
        markStarted();
        for await (const message of messages) {
          await handle(message);
          if (closed) break;
        }
      } catch (error) {
        streamReady = false;
        if (!closed) logger.warn({ err: error, stream }, "reading the replication stream failed; retrying");
      }
      if (!closed) await new Promise((resolve) => setTimeout(resolve, 1000));
    }
  })();
  return {
    publish(change, key = "all") {
      if (closed) return;
      enqueue({ kind: "publish", subject: logSubject(subject, nodeId, key), data: encodeEnvelope(nodeId, change), id: `${nodeId}-${randomUUID()}` });
    },
    purge(key) {
      if (closed) return;
      enqueue({ kind: "purge", filter: `${subject}.*.${safeKey(key)}` });
    },
    stats: () => ({ ...counts, pending: outbox.length }),
    started,
    async flushed() {
      while (outbox.length > 0 && !closed) {
        flush();
        await new Promise<void>((resolve) => (flushing ? waiters.push(resolve) : setTimeout(resolve, 100)));
      }
    },
    async close(graceMs = 2000) {
      const deadline = Date.now() + graceMs;
      while (outbox.length > 0 && link.connected() && Date.now() < deadline) {
        flush();
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      closed = true;
      clearTimeout(retryTimer);
      unsubscribe();
      if (outbox.length > 0) logger.warn({ stream, pending: outbox.length }, "closing with replicated changes not yet sent: they stay on this node only");
      stopClosing(undefined);
      messages?.stop();
      await consuming.catch(() => undefined);
      await flushing?.catch(() => undefined);
    },
  };
}

/** Creates the log's stream when it does not exist (limits retention, `maxAgeMs`, `replicas`); another node's stays as it is. */
export async function ensureReplicationStream(manager: JetStreamManager, options: { stream: string; subject: string; replicas: number; maxAgeMs: number }): Promise<void> {
  const maxAge = options.maxAgeMs > 0 ? nanos(options.maxAgeMs) : 0;
  try {
    await manager.streams.add({
      name: options.stream,
      subjects: [`${options.subject}.>`],
      retention: RetentionPolicy.Limits,
      storage: StorageType.File,
      num_replicas: options.replicas,
      max_age: maxAge,
      duplicate_window: nanos(Math.min(120_000, options.maxAgeMs > 0 ? options.maxAgeMs : 120_000)),
    });
  } catch (error) {
    // Another node made it first (perhaps with another retention): theirs is used.
    await manager.streams.info(options.stream).catch(() => {
      throw error;
    });
  }
}

/** The envelope of a change as published (for publishers that are not a running node: the CLI). */
export function encodeEnvelope(origin: string, change: unknown): Uint8Array {
  const envelope: LogEnvelope = { v: 1, origin, change };
  return encoder.encode(JSON.stringify(envelope));
}

/** The subject a node publishes a change under. */
export function logSubject(prefix: string, origin: string, key = "all"): string {
  return `${prefix}.${origin}.${safeKey(key)}`;
}
