// Sessions in a cluster: the node's SQLite repository, each change published to the sessions stream and every other
// node's changes applied to it, so a conversation continues on any node. (Helper C implements this file; the contract.)
import type { Logger } from "../logging/logger.js";
import type { SessionRepository } from "../store/session-repository.js";
import type { ClusterNames } from "./cluster-names.js";
import type { NatsLink } from "./nats-connection.js";

export interface ReplicatedSessionsOptions {
  link: NatsLink;
  names: ClusterNames;
  nodeId: string;
  replicas: number;
  /** The node's own repository: local changes go to it first, others' changes are applied to it. */
  local: SessionRepository;
  logger: Logger;
}

export interface ReplicatedSessions {
  /** What the pipeline and the admin API use in place of the local repository. */
  readonly store: SessionRepository;
  close(): Promise<void>;
}

export function startReplicatedSessions(options: ReplicatedSessionsOptions): ReplicatedSessions {
  void options;
  throw new Error("not implemented yet");
}
