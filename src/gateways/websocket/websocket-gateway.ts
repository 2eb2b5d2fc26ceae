// The WebSocket gateway: JWT at connect, JSON frames, several requests per connection keyed by id.
import http from "node:http";
import type { Duplex } from "node:stream";
import { WebSocketServer, type WebSocket } from "ws";
import type { WebsocketGatewayConfig } from "../../config/schema.js";
import { errorTable, toClawError, type ErrorCode } from "../../core/errors.js";
import type { Principal } from "../../core/types.js";
import type { Gateway, GatewayContext, GatewayStatus } from "../gateway.js";
import { ignoredGatewayEvents, type GatewayEvents } from "../gateway-events.js";
import type { HttpListeners } from "../http-listeners.js";
import { bearerToken } from "../bearer-token.js";
import { certificatePrincipal } from "../client-certificate.js";
import { WebsocketConnection } from "./websocket-connection.js";
import type { FrameCodecFactory } from "../frame-codec.js";
import { linkCodecs } from "../sm-frame-codec.js";

/** Frames up to this multiple of max_payload get a payload_too_large error frame; larger ones close the socket (1009). */
const hardLimitFactor = 4;

/** How long stop() waits for clients to answer the close handshake before it drops their sockets. */
const closeHandshakeGraceMs = 1_000;

export class WebsocketGateway implements Gateway {
  private readonly server: WebSocketServer;
  private readonly connections = new Set<WebsocketConnection>();
  private heartbeat: NodeJS.Timeout | undefined;
  /** Set by stop(): upgrades still verifying their token are refused with `unavailable` (ws would answer 503 in plain text). */
  private stopped = false;
  private boundPort: number | undefined;
  private readonly events: GatewayEvents;
  /** One codec per connection: plain JSON, or the SM encrypted link. */
  private readonly codecs: FrameCodecFactory;
  readonly linkPublicKey: string | undefined;

  constructor(
    private readonly config: WebsocketGatewayConfig,
    private readonly context: GatewayContext,
    private readonly listeners: HttpListeners,
  ) {
    this.events = context.events ?? ignoredGatewayEvents;
    ({ codecs: this.codecs, publicKey: this.linkPublicKey } = linkCodecs(config.encryption, context, "binary"));
    this.server = new WebSocketServer({ noServer: true, maxPayload: config.max_payload * hardLimitFactor });
    // A handshake ws refuses (no or bad Sec-WebSocket-Key, version, method…) gets our coded answer, not ws's plain text.
    this.server.on("wsClientError", (error: Error, socket: Duplex, request: http.IncomingMessage) => {
      this.refuse(socket, request.method === "GET" ? "bad_request" : "method_not_allowed", `Not a valid WebSocket handshake: ${error.message}.`);
    });
    listeners.attach(config, context.logger, { upgrade: (request, socket, head) => this.upgrade(request, socket, head), events: this.events });
  }

  get name(): string {
    return `websocket ${this.config.tls ? "wss" : "ws"}://${this.config.host}:${this.boundPort ?? this.config.port}${this.config.path}`;
  }

  get port(): number | undefined {
    return this.boundPort;
  }

  /** Open connections, those still waiting for their auth frame, and the bytes buffered for all of them (for /readyz and logs). */
  connectionStats(): { open: number; unauthenticated: number; bufferedBytes: number } {
    let unauthenticated = 0;
    let bufferedBytes = 0;
    for (const connection of this.connections) {
      if (!connection.authenticated) unauthenticated += 1;
      bufferedBytes += connection.bufferedAmount;
    }
    return { open: this.connections.size, unauthenticated, bufferedBytes };
  }

  status(): GatewayStatus {
    const state = this.stopped ? "stopped" : this.boundPort === undefined ? "starting" : "listening";
    return { type: "websocket", name: this.name, state, healthy: state === "listening", connections: this.connections.size };
  }

  async start(): Promise<void> {
    this.boundPort = await this.listeners.listen(this.config.port);
    this.heartbeat = setInterval(() => {
      for (const connection of this.connections) connection.heartbeat();
    }, this.config.ping_interval * 1000);
    this.heartbeat.unref();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.heartbeat);
    for (const connection of this.connections) connection.close(1001, "server shutting down");
    // A peer that does not answer the close (it stopped reading) would hold the port for ws's 30 s close timer.
    const deadline = Date.now() + closeHandshakeGraceMs;
    while (this.connections.size > 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
    for (const connection of this.connections) connection.terminate();
    this.server.close();
    await this.listeners.release(this.config.port);
  }

  /** Owns its errors: every failure is a coded HTTP answer on the socket, or the socket is destroyed. */
  private async upgrade(request: http.IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    // Node removed the socket's error listener before 'upgrade': a reset while the token is verified must not crash the node.
    socket.on("error", ignoreSocketError);
    const url = parseUpgradeUrl(request.url);
    if (!url) return this.refuse(socket, "bad_request", "The upgrade URL is malformed.");
    if (url.pathname !== this.config.path) return this.refuse(socket, "not_found", `No WebSocket endpoint at ${url.pathname.slice(0, 200)}`);
    const remote = request.socket.remoteAddress;
    const token = bearerToken(request.headers.authorization) ?? url.searchParams.get("token") ?? undefined;
    // mTLS: a verified client certificate authenticates the connection when no bearer token is sent.
    let principal: Principal | undefined = token === undefined ? certificatePrincipal(request.socket, this.config.tls) : undefined;
    if (!principal && (token !== undefined || !this.context.authenticator.required)) {
      try {
        principal = await this.context.authenticator.authenticate(token, remote);
      } catch (error) {
        // The authenticator reported it (authFailed), with the client's address.
        const clawError = toClawError(error);
        this.context.logger.info({ gateway: "websocket", reason: clawError.message, remote }, "connection refused");
        return rejectUpgrade(socket, clawError.code, clawError.message);
      }
    }
    // The client may have gone while its token was verified, or the gateway stopped meanwhile.
    if (socket.destroyed) return;
    if (this.stopped) return this.refuse(socket, "unavailable", "The node is shutting down.");
    this.server.handleUpgrade(request, socket, head, (socketConnection: WebSocket) => {
      socket.off("error", ignoreSocketError);
      this.events.connectionOpened();
      const connection = new WebsocketConnection(socketConnection, {
        context: this.context,
        principal,
        maxPayload: this.config.max_payload,
        authTimeoutMs: this.config.auth_timeout * 1000,
        maxBuffered: this.config.max_buffered,
        slowClientTimeoutMs: this.config.slow_client_timeout * 1000,
        events: this.events,
        remote,
        codec: this.codecs(),
      });
      this.connections.add(connection);
      socketConnection.on("close", () => this.connections.delete(connection));
    });
  }

  /** An upgrade refused before any connection existed: a refused frame (refused credentials are the authenticator's to report). */
  private refuse(socket: Duplex, code: ErrorCode, message: string): void {
    if (!socket.destroyed) this.events.frameRefused(code);
    rejectUpgrade(socket, code, message);
  }
}

/**
 * The upgrade request's URL, or undefined when it is not a path or does not parse (`*`, `http://[::1`, …).
 * The target is appended to a fixed origin, never resolved against it: `//x` is the path `//x`, not the host x.
 */
function parseUpgradeUrl(target: string | undefined): URL | undefined {
  if (!target?.startsWith("/")) return undefined;
  try {
    return new URL(`http://localhost${target}`);
  } catch {
    return undefined;
  }
}

function ignoreSocketError(this: Duplex): void {
  this.destroy();
}

function rejectUpgrade(socket: Duplex, code: ErrorCode, message: string): void {
  if (socket.destroyed) return;
  const status = errorTable[code].status;
  const body = JSON.stringify({ error: { code, message } });
  socket.end(
    `HTTP/1.1 ${status} ${http.STATUS_CODES[status] ?? "Error"}\r\n` +
      `content-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
  );
}
