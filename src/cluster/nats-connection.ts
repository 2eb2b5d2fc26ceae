// The node's one connection to NATS: credentials and TLS from the config, reconnecting forever, its state observable.
import { connect, type ConnectionOptions, type JetStreamClient, type JetStreamManager, type NatsConnection } from "nats";
import type { ClusterConfig } from "../config/cluster-schema.js";
import type { Logger } from "../logging/logger.js";

/** What a part of the cluster gets once NATS answers. */
export interface NatsSession {
  readonly connection: NatsConnection;
  readonly jetstream: JetStreamClient;
  readonly manager: JetStreamManager;
}

export interface NatsLink {
  /** Resolves with the connection once NATS first answers (never, when the link closes before); the client reconnects by itself after. */
  readonly ready: Promise<NatsSession>;
  /** The connection when it has been made and is up now; undefined while NATS cannot be reached. */
  current(): NatsSession | undefined;
  /** Whether the connection is up now (false before the first connection and while reconnecting). */
  connected(): boolean;
  /** Calls `listener` on every change of `connected()`; returns the unsubscribe function. */
  onChange(listener: (connected: boolean) => void): () => void;
  /** Reconnections since the node started (for the metrics). */
  reconnects(): number;
  /** Drains subscriptions and closes the connection (or stops trying to make it). */
  close(): Promise<void>;
}

/** The client options for the cluster's servers: credentials and TLS from the config, retrying every second forever. */
export function natsOptions(config: ClusterConfig, clientName: string): ConnectionOptions {
  return {
    servers: config.nats,
    name: clientName,
    ...(config.token ? { token: config.token } : {}),
    ...(config.user ? { user: config.user, pass: config.password } : {}),
    ...(config.tls
      ? {
          tls: {
            ...(config.tls.ca_file ? { caFile: config.tls.ca_file } : {}),
            ...(config.tls.cert_file ? { certFile: config.tls.cert_file } : {}),
            ...(config.tls.key_file ? { keyFile: config.tls.key_file } : {}),
          },
        }
      : {}),
    waitOnFirstConnect: true,
    maxReconnectAttempts: -1,
    reconnectTimeWait: 1000,
    // A short ping interval notices a dead server within seconds, not minutes.
    pingInterval: 2000,
    maxPingOut: 3,
  };
}

/** Starts connecting to the cluster's NATS servers and returns at once; a node starts whether or not NATS answers. */
export function openNatsLink(config: ClusterConfig, options: { nodeId: string; logger: Logger }): NatsLink {
  const { logger } = options;
  let session: NatsSession | undefined;
  let up = false;
  let closed = false;
  let reconnects = 0;
  const listeners = new Set<(connected: boolean) => void>();
  const set = (value: boolean) => {
    if (value === up) return;
    up = value;
    for (const listener of listeners) listener(value);
  };
  const timer = setTimeout(() => {
    if (!up && !closed) logger.warn({ servers: config.nats }, "NATS is not reachable yet; retrying every second");
  }, 3000);
  const connecting = connect(natsOptions(config, `clawbot-${config.name}-${options.nodeId}`));
  const ready = connecting.then(async (connection) => {
    clearTimeout(timer);
    if (closed) {
      await connection.close();
      return new Promise<NatsSession>(() => undefined);
    }
    session = { connection, jetstream: connection.jetstream(), manager: await connection.jetstreamManager() };
    logger.info({ server: connection.getServer() }, "connected to NATS");
    set(true);
    void (async () => {
      for await (const status of connection.status()) {
        if (status.type === "disconnect") {
          logger.warn({ server: status.data }, "NATS connection lost; reconnecting");
          set(false);
        } else if (status.type === "reconnect") {
          reconnects += 1;
          logger.info({ server: status.data }, "NATS connection back");
          set(true);
        }
      }
    })().catch(() => undefined);
    return session;
  });
  ready.catch((error: unknown) => logger.error({ err: error }, "NATS connection failed"));
  return {
    ready,
    current: () => (up ? session : undefined),
    connected: () => up,
    onChange(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    reconnects: () => reconnects,
    async close() {
      closed = true;
      clearTimeout(timer);
      set(false);
      const connection = session?.connection;
      if (!connection || connection.isClosed()) return;
      await connection.drain().catch(() => connection.close());
    },
  };
}
