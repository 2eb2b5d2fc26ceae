// The leader lease: one node is primary (KV create; renewed with compare-and-set each heartbeat); fencing by revision.
import { randomUUID } from "node:crypto";
import type { KV } from "nats";
import type { ClusterConfig } from "../config/cluster-schema.js";
import type { Logger } from "../logging/logger.js";
import type { ClusterNames } from "./cluster-names.js";
import type { NatsLink, NatsSession } from "./nats-connection.js";

export interface Leadership {
  /**
   * Whether this node may act as primary now: it holds the lease and its last renewal is recent enough that no other
   * node can have taken it (checked on the local clock before every singleton duty).
   */
  isPrimary(): boolean;
  /** The node holding the lease as last seen, if any. */
  holder(): string | undefined;
  /** Calls `listener` when this node becomes primary (true) or steps down (false); returns the unsubscribe function. */
  onChange(listener: (primary: boolean) => void): () => void;
  /** Gives the lease up (deletes it when still ours) and stops. */
  close(): Promise<void>;
}

/** The clock and timers the lease runs on: the real ones, or a test's that can freeze (a paused process). */
export interface LeaseScheduler {
  now(): number;
  setTimeout(callback: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export interface LeadershipOptions {
  link: NatsLink;
  names: ClusterNames;
  config: ClusterConfig;
  nodeId: string;
  logger: Logger;
  /** Real time and timers by default. */
  scheduler?: LeaseScheduler;
}

/** The lease's one key and what it holds. */
export const leaderKey = "leader";
export interface LeaseValue {
  node_id: string;
  /** Random per start of the lease holder: tells its own lease from one a previous run of the node left. */
  incarnation: string;
  at: number;
}

/** The leader bucket's TTL: two heartbeats, so one late renewal is not a failover. */
export function leaseTtlMs(config: Pick<ClusterConfig, "heartbeat_s">): number {
  return 2 * config.heartbeat_s * 1000;
}

/**
 * Until when a renewal sent at `sentAt` lets its node act: the server stamps the entry no earlier than it was sent, so no
 * other node can create the key before `sentAt + ttl` (clocks ticking at the same rate); the margin covers timer lag.
 */
export function leaseValidUntil(sentAt: number, ttlMs: number): number {
  return sentAt + ttlMs - Math.min(1000, ttlMs / 10);
}

/** The holder a lease entry names, or undefined when it is not a lease of ours (anyone on NATS can write the bucket). */
export function parseLeaseValue(value: Uint8Array): LeaseValue | undefined {
  try {
    const json = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(value)) as Partial<LeaseValue> | null;
    if (!json || typeof json.node_id !== "string" || !/^[A-Za-z0-9_-]{1,64}$/.test(json.node_id)) return undefined;
    if (typeof json.incarnation !== "string" || json.incarnation.length > 64 || typeof json.at !== "number") return undefined;
    return { node_id: json.node_id, incarnation: json.incarnation, at: json.at };
  } catch {
    return undefined;
  }
}

/** The leader bucket, created when missing (history 1, the TTL of `leaseTtlMs`). */
export function openLeaderBucket(session: NatsSession, names: ClusterNames, config: ClusterConfig): Promise<KV> {
  return session.jetstream.views.kv(names.leaderBucket, { replicas: config.replicas, history: 1, ttl: leaseTtlMs(config) });
}

const realScheduler: LeaseScheduler = {
  now: () => Date.now(),
  setTimeout: (callback, ms) => {
    const timer = setTimeout(callback, ms);
    timer.unref();
    return timer;
  },
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
};

/** JetStream's "wrong last sequence": a compare-and-set lost to someone else's revision. */
function lostCompareAndSet(error: unknown): boolean {
  return (error as { api_error?: { err_code?: number } } | undefined)?.api_error?.err_code === 10071;
}

export function startLeadership(options: LeadershipOptions): Leadership {
  const { link, names, config, nodeId, logger } = options;
  const clock = options.scheduler ?? realScheduler;
  const configuredTtl = leaseTtlMs(config);
  const listeners = new Set<(primary: boolean) => void>();
  /** The TTL the fence uses: the bucket's own when shorter (another node created it with other settings). */
  let ttlMs = configuredTtl;
  let bucket: Promise<KV> | undefined;
  /** The lease as we last wrote it; kept through failed renewals until a compare-and-set says it is someone else's. */
  let held: { revision: number; sentAt: number } | undefined;
  /** Whether we announced being primary (the log lines and listeners follow transitions of this). */
  let announced = false;
  let holder: string | undefined;
  let closed = false;
  let tickTimer: unknown;
  let expiryTimer: unknown;
  let badLeaseLogged = false;

  const renewEveryMs = () => ttlMs / 2;
  const pollMs = () => Math.min(1000, renewEveryMs() / 2);
  const validUntil = () => (held ? leaseValidUntil(held.sentAt, ttlMs) : 0);
  const isPrimary = () => held !== undefined && clock.now() < validUntil();

  const tell = (primary: boolean) => {
    for (const listener of [...listeners]) {
      try {
        listener(primary);
      } catch (error) {
        logger.error({ err: error }, "a leadership listener failed");
      }
    }
  };
  const stepDown = (reason: string) => {
    if (!announced) return;
    announced = false;
    clock.clearTimeout(expiryTimer);
    logger.info({ node_id: nodeId, reason, valid_until: Math.min(clock.now(), validUntil()) }, "stepped down");
    tell(false);
  };
  /** After each successful create or renewal: announce (once) and arm the timer that notices a lapse. */
  const renewed = (revision: number, sentAt: number) => {
    held = { revision, sentAt };
    holder = nodeId;
    clock.clearTimeout(expiryTimer);
    // A reply that came too late to act on: not primary, and the next renewal decides.
    if (!isPrimary()) return;
    expiryTimer = clock.setTimeout(() => {
      if (!isPrimary()) stepDown("lease expired before it was renewed");
    }, validUntil() - clock.now());
    if (!announced) {
      announced = true;
      logger.info({ node_id: nodeId, revision, valid_until: validUntil() }, "became primary");
      tell(true);
    }
  };

  const open = (session: NatsSession): Promise<KV> => {
    if (bucket) return bucket;
    const opening = openLeaderBucket(session, names, config).then(async (kv) => {
      const actual = (await kv.status()).ttl;
      if (actual <= 0) logger.warn({ bucket: names.leaderBucket }, "the leader bucket has no TTL: a dead primary is never replaced");
      else if (actual < configuredTtl) logger.warn({ bucket: names.leaderBucket, ttl_ms: actual }, "the leader bucket's TTL is shorter than this node's heartbeat needs");
      ttlMs = actual > 0 ? Math.min(actual, configuredTtl) : configuredTtl;
      return kv;
    });
    opening.catch(() => {
      if (bucket === opening) bucket = undefined;
    });
    return (bucket = opening);
  };
  const incarnation = randomUUID();
  const value = () => JSON.stringify({ node_id: nodeId, incarnation, at: clock.now() } satisfies LeaseValue);

  const acquire = async (kv: KV) => {
    const entry = await kv.get(leaderKey);
    if (entry && entry.operation === "PUT") {
      const lease = parseLeaseValue(entry.value);
      if (!lease && !badLeaseLogged) logger.warn({ bucket: names.leaderBucket }, "the leader key holds something that is not a lease; waiting for it to expire");
      badLeaseLogged = !lease;
      holder = lease?.node_id;
      return;
    }
    holder = undefined;
    const sentAt = clock.now();
    try {
      renewed(await kv.create(leaderKey, value()), sentAt);
    } catch (error) {
      // Another node created it first: it is the primary; the next poll reads who.
      if (!lostCompareAndSet(error)) throw error;
    }
  };
  const renew = async (kv: KV, lease: { revision: number; sentAt: number }) => {
    const sentAt = clock.now();
    try {
      renewed(await kv.update(leaderKey, value(), lease.revision), sentAt);
    } catch (error) {
      if (!lostCompareAndSet(error)) throw error;
      const entry = await kv.get(leaderKey);
      const current = entry?.operation === "PUT" ? parseLeaseValue(entry.value) : undefined;
      if (entry && current?.incarnation === incarnation && held === lease) {
        // A renewal that timed out here but was written: ours still, and it lasts at least as long as the last one we saw.
        held = { revision: entry.revision, sentAt: lease.sentAt };
        return;
      }
      // Someone else's revision (or none): our lease expired (a pause, a partition). Never act on it again.
      if (held === lease) held = undefined;
      holder = current?.node_id;
      stepDown("the lease has another holder");
    }
  };

  const tick = async () => {
    if (closed) return;
    if (announced && !isPrimary()) stepDown("lease expired before it was renewed");
    const session = link.current();
    if (!session) return;
    const kv = await open(session);
    if (closed) return;
    if (held && clock.now() - held.sentAt >= renewEveryMs()) await renew(kv, held);
    else if (!held) await acquire(kv);
  };
  let failing = false;
  // A poll each second (at most) while waiting; a holder's renewal at exactly half the TTL, not up to a poll late.
  const nextTickMs = () => (held ? Math.min(pollMs(), Math.max(0, held.sentAt + renewEveryMs() - clock.now())) : pollMs());
  const loop = () => {
    tickTimer = clock.setTimeout(() => {
      tick()
        .then(() => (failing = false))
        .catch((error: unknown) => {
          // NATS down or slow: tried again at the next poll; the fence needs no answer to expire.
          if (!failing) logger.warn({ err: error }, "the leader lease could not be read or renewed; trying again");
          failing = true;
        })
        .finally(() => {
          if (!closed) loop();
        });
    }, nextTickMs());
  };
  loop();

  return {
    isPrimary,
    holder: () => (held && isPrimary() ? nodeId : holder),
    onChange(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    async close() {
      if (closed) return;
      closed = true;
      clock.clearTimeout(tickTimer);
      stepDown("closing");
      const lease = held;
      held = undefined;
      const session = link.current();
      // Deleted only at our revision: a lease someone else holds now is left alone. A standby then takes it at once.
      if (lease && session && bucket) {
        await bucket
          .then((kv) => kv.delete(leaderKey, { previousSeq: lease.revision }))
          .catch((error: unknown) => logger.warn({ err: error }, "could not hand the leader lease over"));
      }
      listeners.clear();
    },
  };
}
