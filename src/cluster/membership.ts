// Membership: every node puts a heartbeat into the cluster's KV bucket each `heartbeat_s`; a node missing 3 is dead.
// (Helper B implements this file; the signatures below are the contract.)
import type { ClusterConfig, ClusterRole } from "../config/cluster-schema.js";
import type { Logger } from "../logging/logger.js";
import type { ClusterNames } from "./cluster-names.js";
import type { NatsLink } from "./nats-connection.js";

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

export function startMembership(options: MembershipOptions): Membership {
  void options;
  throw new Error("not implemented yet");
}
