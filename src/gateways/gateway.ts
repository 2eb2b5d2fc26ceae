// What every gateway adapter is to the daemon: something that starts serving and stops cleanly.
import type { Logger } from "../logging/logger.js";
import type { Pipeline } from "../pipeline/pipeline.js";
import type { Authenticator } from "../security/authenticator.js";
import type { LanguageModel } from "../engine/language-model.js";
import type { RequestLedger } from "../store/request-ledger.js";
import type { SessionReader } from "../store/session-reader.js";
import type { ToolServerStatus } from "../tools/tool-types.js";
import type { GatewayEvents } from "./gateway-events.js";
import type { HttpListeners, ListenerConfig } from "./http-listeners.js";
import type { AdminServices } from "./http/admin-services.js";

/** What a gateway says about itself, for `/readyz`, the metrics and the logs. */
export interface GatewayStatus {
  /** "websocket", "http", "mqtt", or the custom protocol's name. */
  type: string;
  /** As `Gateway.name`. */
  name: string;
  /** "listening", "connected", "connecting", "reconnecting", "waiting-for-model", "stopped"… */
  state: string;
  /** Whether it can take requests now (listening, or connected to its broker). */
  healthy: boolean;
  /** Open client connections (a broker client: 1 while connected). */
  connections: number;
}

export interface Gateway {
  /** Human-readable name for logs, e.g. "websocket ws://127.0.0.1:8080/". */
  readonly name: string;
  start(): Promise<void>;
  /**
   * Optional: stop taking new requests before the daemon drains in-flight ones (the requests still running
   * finish and reply). MQTT leaves new requests unacknowledged on the broker, so they are served after a restart.
   */
  pause?(): Promise<void> | void;
  /** Stops taking new connections; in-flight requests are drained by the pipeline. */
  stop(): Promise<void>;
  /** Its state now; cheap (read on every scrape and /readyz). */
  status(): GatewayStatus;
  /** The static SM2 public key (04‖x‖y hex) of its encrypted link, when `encryption: {type: sm}` is on (printed at start). */
  readonly linkPublicKey?: string;
}

/**
 * What `/readyz` shows of the node's cluster (a part of `ClusterNode.status()`, declared here because the cluster sits
 * above the gateways; the daemon passes `cluster.status`).
 */
export interface ClusterReadiness {
  name: string;
  nodeId: string;
  connected: boolean;
  primary: boolean;
  /** The node holding the leader lease, when one does. */
  leader: string | undefined;
  /** Live nodes (recent heartbeats), this one included. */
  alive: readonly unknown[];
}

/** What the daemon hands every adapter. */
export interface GatewayContext {
  pipeline: Pipeline;
  authenticator: Authenticator;
  engine: LanguageModel;
  logger: Logger;
  /** Directory that relative paths in the gateway's config (key files, CA files) resolve against. */
  baseDir: string;
  /** The node's data directory (generated keys such as the SM2 link key go there); absent for a gateway built outside the daemon (then baseDir). */
  dataDir?: string;
  /** Whether the model is loaded and requests can be served. */
  isReady(): boolean;
  /** Why the node's database is failing (its last write failed, e.g. disk full), or undefined when it works: `/readyz` reports degraded. */
  storeFailure?(): string | undefined;
  /** Other names clients may give the served model (`agent.model_aliases`); the OpenAI API refuses any other name. */
  modelAliases?: readonly string[];
  /** The durable record of acknowledged MQTT requests (the node's database); without it, the MQTT gateway keeps one in memory. */
  requestLedger?: RequestLedger;
  /**
   * Where the gateway reports what never reaches the pipeline (connections, refused frames); auth failures are
   * reported by the authenticator the daemon wraps. Absent for a gateway built outside the daemon.
   */
  events?: GatewayEvents;
  /** Every gateway's status() (guarded: see gatewayStatusOf), for `/readyz`; absent for a gateway built outside the daemon. */
  gatewayStatuses?(): GatewayStatus[];
  /** The MCP servers the node's tools come from, for `/readyz` (information only: one away never makes the node not ready). */
  toolServers?(): readonly ToolServerStatus[];
  /** The node's cluster, for `/readyz`; absent when the node runs alone (config without `cluster`). */
  clusterStatus?(): ClusterReadiness;
  /** What the http gateway's admin API acts on (policy, sessions, revocation, erasure); absent outside the daemon. */
  admin?: AdminServices;
  /** The clients' own sessions, for the `sessions` and `history` frames; absent outside the daemon (the frames answer not_found). */
  sessions?: SessionReader;
  /**
   * The node's HTTP listeners (one fastify server per port): a webhook adapter adds its routes to the http gateway's
   * port (`attach` with that gateway's listener keys, before the gateways start) or claims a port of its own and
   * `listen`s on it in start(). Absent for a gateway built outside the daemon.
   */
  listeners?: HttpListeners;
  /** The listener keys (host, port, limits, tls) of the node's first `http` gateway: a webhook without a port of its own mounts there. */
  httpListener?: ListenerConfig;
  /** Where the node's WebSocket gateways listen (bound ports), for the web chat's `/web/config.json`. */
  websocketEndpoints?(): WebsocketEndpoint[];
}

/** One WebSocket gateway as a web page reaches it. */
export interface WebsocketEndpoint {
  /** The bound port (undefined while it starts). */
  port: number | undefined;
  path: string;
  tls: boolean;
  /** Whether it wants a token (jwt) or lets anyone in (none). */
  auth: "jwt" | "none";
}
