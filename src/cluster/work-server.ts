// A worker's side of the work queue: pulls only as many requests as it has free sequences, generates with the local
// engine, streams the parts back, extends its ack while it works. (Helper A implements this file; the contract below.)
import type { ClusterConfig } from "../config/cluster-schema.js";
import type { LanguageModel } from "../engine/language-model.js";
import type { Logger } from "../logging/logger.js";
import type { ClusterNames } from "./cluster-names.js";
import type { NatsLink } from "./nats-connection.js";

export interface WorkServerOptions {
  link: NatsLink;
  names: ClusterNames;
  config: ClusterConfig;
  nodeId: string;
  /** The node's own engine (it may still be loading: nothing is pulled until it is ready). */
  engine: LanguageModel & { readonly ready?: boolean };
  logger: Logger;
  /** Told of each request this worker finished (outcome: the finish reason or the error code). */
  onServed?(outcome: string): void;
}

export interface WorkServer {
  /** Requests this worker is generating now. */
  active(): number;
  /** Stops pulling, lets requests in progress end (or cancels them after `graceMs`), and stops. */
  close(graceMs?: number): Promise<void>;
}

export function startWorkServer(options: WorkServerOptions): WorkServer {
  void options;
  throw new Error("not implemented yet");
}
