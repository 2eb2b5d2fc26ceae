// The leader lease: one node is primary (KV create; renewed with compare-and-set each heartbeat); fencing by revision.
// (Helper B implements this file; the signatures below are the contract.)
import type { ClusterConfig } from "../config/cluster-schema.js";
import type { Logger } from "../logging/logger.js";
import type { ClusterNames } from "./cluster-names.js";
import type { NatsLink } from "./nats-connection.js";

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

export interface LeadershipOptions {
  link: NatsLink;
  names: ClusterNames;
  config: ClusterConfig;
  nodeId: string;
  logger: Logger;
}

export function startLeadership(options: LeadershipOptions): Leadership {
  void options;
  throw new Error("not implemented yet");
}
