// What `clawbot cluster status` reads: every heartbeat in the nodes bucket and the leader lease, once, creating nothing.
import type { NatsConnection } from "nats";
import type { ClusterConfig } from "../config/cluster-schema.js";
import type { ClusterNames } from "./cluster-names.js";
import { leaderKey, leaseTtlMs, parseLeaseValue, type LeaseValue } from "./leadership.js";
import { maxMembers, memberEntry, parseNodeBeat, type MemberEntry } from "./membership.js";

/** For `clawbot cluster status`: every beat in the bucket, read once (no bucket yet: none). */
export async function readMembers(connection: NatsConnection, names: ClusterNames, heartbeatS: number): Promise<MemberEntry[]> {
  if (!(await bucketExists(connection, names.nodesBucket))) return [];
  const kv = await connection.jetstream().views.kv(names.nodesBucket, { bindOnly: true });
  const members: MemberEntry[] = [];
  const now = Date.now();
  const keys: string[] = [];
  for await (const key of await kv.keys()) if (keys.length < maxMembers) keys.push(key);
  for (const key of keys) {
    const entry = await kv.get(key);
    const beat = entry && entry.operation === "PUT" ? parseNodeBeat(entry.key, entry.value) : undefined;
    if (entry && beat) members.push(memberEntry(beat, entry.created.getTime(), heartbeatS, now));
  }
  return members.sort((a, b) => a.beat.node_id.localeCompare(b.beat.node_id));
}

/** Whether a KV bucket exists (reading one must not create it). */
export async function bucketExists(connection: NatsConnection, bucket: string): Promise<boolean> {
  const manager = await connection.jetstreamManager();
  try {
    await manager.streams.info(`KV_${bucket}`);
    return true;
  } catch (error) {
    if ((error as Error).message === "stream not found") return false;
    throw error;
  }
}

/** For `clawbot cluster status`: the lease as stored now, if a live one is there (no bucket yet: none). */
export async function readLease(connection: NatsConnection, names: ClusterNames, config: ClusterConfig): Promise<LeaseValue | undefined> {
  if (!(await bucketExists(connection, names.leaderBucket))) return undefined;
  const kv = await connection.jetstream().views.kv(names.leaderBucket, { bindOnly: true });
  const entry = await kv.get(leaderKey);
  // An entry past the TTL is one the server has not removed yet: no one holds it.
  if (!entry || entry.operation !== "PUT" || Date.now() - entry.created.getTime() > leaseTtlMs(config)) return undefined;
  return parseLeaseValue(entry.value);
}
