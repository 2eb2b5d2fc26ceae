// Membership: every node puts a heartbeat into the cluster's KV bucket each `heartbeat_s`; a node missing 3 is dead.
import os from "node:os";
import type { KV, KvEntry, QueuedIterator } from "nats";
import { z } from "zod";
import { clusterRoles, type ClusterConfig, type ClusterRole } from "../config/cluster-schema.js";
import type { Logger } from "../logging/logger.js";
import type { ClusterNames } from "./cluster-names.js";
import type { NatsLink, NatsSession } from "./nats-connection.js";

/** One node's heartbeat, as stored in the nodes bucket (JSON, snake_case like every wire format of ours). */
export interface NodeBeat {
  node_id: string;
  roles: ClusterRole[];
  version: string;
  /** The model its workers serve ("" on a gateway-only node). */
  model: string;
  /** Tokens each of its sequences holds. */
  context_size: number;
  /** Sequences free now and in all (0 and 0 on a gateway-only node). */
  free: number;
  total: number;
  /** Requests waiting on this node for a sequence. */
  queued: number;
  /** CPU use over the last beat, 0..1 of all cores; resident memory in bytes. */
  cpu: number;
  memory_bytes: number;
  /** Whether it holds the leader lease. */
  primary: boolean;
  started_at: number;
  /** When the beat was written (epoch ms, the node's clock). */
  at: number;
}

/** What the node says about itself in each beat (the rest is filled by the membership). */
export type NodeState = Omit<NodeBeat, "node_id" | "roles" | "version" | "started_at" | "at" | "cpu" | "memory_bytes">;

export interface MemberEntry {
  beat: NodeBeat;
  /** Seen within 3 heartbeats (by the bucket entry's own time, not the writer's clock). */
  alive: boolean;
  /** Seconds since its last beat. */
  age_s: number;
}

export interface Membership {
  /** Live nodes (beat within 3 × heartbeat_s), this one included once its first beat is written. */
  alive(): NodeBeat[];
  /** Every node in the bucket, dead ones included (`clawbot cluster status`). */
  entries(): MemberEntry[];
  /** Bucket values ignored because they were not a valid beat (anyone with access to NATS can write the bucket). */
  ignored(): number;
  close(): Promise<void>;
}

export interface MembershipOptions {
  link: NatsLink;
  names: ClusterNames;
  config: ClusterConfig;
  nodeId: string;
  version: string;
  /** The node's state now, read at each beat. */
  state(): NodeState;
  logger: Logger;
}

/** Beats a node may miss before it is dead. */
export const missedBeats = 3;
/** The nodes bucket's TTL in heartbeats: long after a node is dead (3), so `cluster status` shows it as dead a while. */
export const nodesBucketTtlBeats = 12;
/** More keys than any real cluster has: a flood of keys written by someone else must not grow the table without bound. */
export const maxMembers = 1024;

const count = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);
const nodeBeatSchema = z.object({
  node_id: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/),
  roles: z.array(z.enum(clusterRoles)).max(clusterRoles.length),
  version: z.string().max(64),
  model: z.string().max(256),
  context_size: count,
  free: count,
  total: count,
  queued: count,
  cpu: z.number().min(0).max(1),
  memory_bytes: count,
  primary: z.boolean(),
  started_at: count,
  at: count,
});

/** The beat a bucket value holds, or undefined when it is not valid JSON of a beat written under its own node's key. */
export function parseNodeBeat(key: string, value: Uint8Array): NodeBeat | undefined {
  if (value.length > 16_384) return undefined;
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(value));
  } catch {
    return undefined;
  }
  const result = nodeBeatSchema.safeParse(json);
  if (!result.success || result.data.node_id !== key) return undefined;
  return { ...result.data, roles: [...new Set(result.data.roles)] };
}

/** A beat seen at `createdMs` (the bucket entry's server time), judged at `nowMs`. */
export function memberEntry(beat: NodeBeat, createdMs: number, heartbeatS: number, nowMs: number): MemberEntry {
  const ageMs = Math.max(0, nowMs - createdMs);
  return { beat, alive: ageMs <= missedBeats * heartbeatS * 1000, age_s: Math.round(ageMs / 100) / 10 };
}

/** The nodes bucket, created when missing (the first node's settings win; history 1: only the last beat matters). */
export function openNodesBucket(session: NatsSession, names: ClusterNames, config: ClusterConfig): Promise<KV> {
  return session.jetstream.views.kv(names.nodesBucket, {
    replicas: config.replicas,
    history: 1,
    ttl: nodesBucketTtlBeats * config.heartbeat_s * 1000,
    maxValueSize: 16_384,
  });
}

export function startMembership(options: MembershipOptions): Membership {
  const { link, names, config, nodeId, version, state, logger } = options;
  const heartbeatMs = config.heartbeat_s * 1000;
  const startedAt = Date.now();
  const cores = Math.max(1, os.availableParallelism?.() ?? os.cpus().length);
  /** The last beat of each node and when the bucket stored it (epoch ms). */
  const table = new Map<string, { beat: NodeBeat; created: number }>();
  const reportedBad = new Set<string>();
  let ignored = 0;
  let closed = false;
  let bucket: Promise<KV> | undefined;
  let watcher: QueuedIterator<KvEntry> | undefined;
  let beating = false;
  let failing = false;
  /** Since when a beat we wrote has not come back through the watch (undefined: it has). */
  let unseenSince: number | undefined;
  let cpuMark = { usage: process.cpuUsage(), at: performance.now() };
  let timer: NodeJS.Timeout | undefined;

  const open = (session: NatsSession): Promise<KV> => {
    if (bucket) return bucket;
    const opening = openNodesBucket(session, names, config);
    // A failed open (NATS down, JetStream not ready) is tried again at the next beat.
    opening.catch(() => {
      if (bucket === opening) bucket = undefined;
    });
    return (bucket = opening);
  };

  const cpu = (): number => {
    const now = performance.now();
    const used = process.cpuUsage(cpuMark.usage);
    const elapsedMs = now - cpuMark.at;
    cpuMark = { usage: process.cpuUsage(), at: now };
    if (elapsedMs <= 0) return 0;
    return Math.min(1, Math.max(0, (used.user + used.system) / 1000 / elapsedMs / cores));
  };

  const apply = (entry: KvEntry) => {
    if (entry.key === nodeId) unseenSince = undefined;
    if (entry.operation !== "PUT") {
      table.delete(entry.key);
      return;
    }
    const beat = parseNodeBeat(entry.key, entry.value);
    if (!beat) {
      ignored += 1;
      // Logged once per key until it holds a valid beat again: a writer repeating garbage must not flood the log.
      if (!reportedBad.has(entry.key) && reportedBad.size < maxMembers) {
        reportedBad.add(entry.key);
        logger.warn({ bucket: names.nodesBucket, key: entry.key.slice(0, 80), bytes: entry.length }, "ignored a malformed heartbeat in the nodes bucket");
      }
      table.delete(entry.key);
      return;
    }
    reportedBad.delete(entry.key);
    if (!table.has(entry.key) && table.size >= maxMembers) {
      ignored += 1;
      return;
    }
    table.set(entry.key, { beat, created: entry.created.getTime() });
  };

  const stopWatcher = () => {
    watcher?.stop();
    watcher = undefined;
  };
  const watch = async (session: NatsSession) => {
    stopWatcher();
    const iterator = await (await open(session)).watch();
    if (closed) return iterator.stop();
    // Another start may have finished meanwhile: one watch at a time.
    stopWatcher();
    watcher = iterator;
    try {
      for await (const entry of iterator) {
        try {
          apply(entry);
        } catch (error) {
          logger.warn({ err: error }, "could not apply a heartbeat");
        }
      }
    } finally {
      // Ended (stopped, or the server dropped it): the next beat starts another.
      if (watcher === iterator) watcher = undefined;
    }
  };
  const startWatch = () => {
    const session = link.current();
    if (!session || closed) return;
    watch(session).catch((error: unknown) => {
      logger.warn({ err: error }, "watching the nodes bucket failed; trying again at the next beat");
      watcher = undefined;
    });
  };

  const beat = async () => {
    const session = link.current();
    if (!session || closed || beating) return;
    beating = true;
    try {
      const value: NodeBeat = {
        ...state(),
        node_id: nodeId,
        roles: [...new Set(config.roles)],
        version,
        cpu: cpu(),
        memory_bytes: process.memoryUsage.rss(),
        started_at: startedAt,
        at: Date.now(),
      };
      await (await open(session)).put(nodeId, JSON.stringify(value));
      // Our own row at once; the watch replaces it with the bucket's time.
      if (!table.has(nodeId)) table.set(nodeId, { beat: value, created: Date.now() });
      if (failing) logger.info("heartbeats written again");
      failing = false;
      const now = Date.now();
      if (!watcher) startWatch();
      else if (unseenSince === undefined) unseenSince = now;
      else if (now - unseenSince > 2 * heartbeatMs) {
        // Our own beats stopped coming back: the watch went quiet without ending (it can, after a NATS restart).
        logger.warn("the nodes bucket watch went quiet; watching it again");
        unseenSince = undefined;
        startWatch();
      }
    } catch (error) {
      if (!failing) logger.warn({ err: error }, "could not write the heartbeat; trying again each beat");
      failing = true;
      // The bucket may be gone (a NATS server started afresh): open it again next time.
      bucket = undefined;
    } finally {
      beating = false;
    }
  };

  void link.ready.then(() => {
    if (closed) return;
    void beat();
    startWatch();
    timer = setInterval(() => {
      const now = Date.now();
      // Keys the bucket has expired (expiry sends no watch event) leave the table too.
      for (const [key, row] of table) if (now - row.created > nodesBucketTtlBeats * heartbeatMs) table.delete(key);
      void beat();
    }, heartbeatMs);
    timer.unref();
  });
  // A watch does not outlive a NATS restart reliably: start it again whenever the connection comes back.
  const unsubscribe = link.onChange((connected) => {
    if (connected && !closed) startWatch();
  });

  const entries = (): MemberEntry[] => {
    const now = Date.now();
    return [...table.values()]
      .map((row) => memberEntry(row.beat, row.created, config.heartbeat_s, now))
      .sort((a, b) => a.beat.node_id.localeCompare(b.beat.node_id));
  };
  return {
    alive: () => entries().filter((entry) => entry.alive).map((entry) => entry.beat),
    entries,
    ignored: () => ignored,
    async close() {
      closed = true;
      clearInterval(timer);
      unsubscribe();
      watcher?.stop();
      // A node that leaves cleanly removes its beat, so no one sends it work while it would still look alive.
      const session = link.current();
      if (session && bucket) {
        await bucket
          .then((kv) => kv.delete(nodeId))
          .catch((error: unknown) => logger.warn({ err: error }, "could not remove this node's heartbeat"));
      }
      table.clear();
    },
  };
}
