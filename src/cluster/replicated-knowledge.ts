// Knowledge-base changes in a cluster: `clawbot kb ingest`/`kb delete` publish what they changed to the knowledge
// stream; every running node applies the others' changes to its own replica. (Helper C implements this file.)
import type { KnowledgeService } from "../knowledge/knowledge-service.js";
import type { Logger } from "../logging/logger.js";
import type { ClusterNames } from "./cluster-names.js";
import type { NatsLink } from "./nats-connection.js";

export interface KnowledgeReplicaOptions {
  link: NatsLink;
  names: ClusterNames;
  nodeId: string;
  replicas: number;
  knowledge: KnowledgeService;
  logger: Logger;
}

export interface KnowledgeReplica {
  close(): Promise<void>;
}

export function startKnowledgeReplica(options: KnowledgeReplicaOptions): KnowledgeReplica {
  void options;
  throw new Error("not implemented yet");
}
