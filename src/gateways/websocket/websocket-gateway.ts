// The WebSocket gateway: JWT at connect, JSON frames, several requests per connection keyed by id.
import http from "node:http";
import type { Duplex } from "node:stream";
import { WebSocketServer, type WebSocket } from "ws";
import type { WebsocketGatewayConfig } from "../../config/schema.js";
import { errorTable, toClawError, type ErrorCode } from "../../core/errors.js";
import type { Principal } from "../../core/types.js";
import type { Gateway, GatewayContext } from "../gateway.js";
import type { HttpListeners } from "../http-listeners.js";
import { bearerToken } from "../bearer-token.js";
import { WebsocketConnection } from "./websocket-connection.js";

/** Frames up to this multiple of max_payload get a payload_too_large error frame; larger ones close the socket (1009). */
const hardLimitFactor = 4;

export class WebsocketGateway implements Gateway {
  private readonly server: WebSocketServer;
  private readonly connections = new Set<WebsocketConnection>();
  private heartbeat: NodeJS.Timeout | undefined;
  private boundPort: number | undefined;

  constructor(
    private readonly config: WebsocketGatewayConfig,
    private readonly context: GatewayContext,
    private readonly listeners: HttpListeners,
  ) {
    this.server = new WebSocketServer({ noServer: true, maxPayload: config.max_payload * hardLimitFactor });
    listeners.attach(config.host, config.port, { upgrade: (request, socket, head) => void this.upgrade(request, socket, head) });
  }

  get name(): string {
    return `websocket ws://${this.config.host}:${this.boundPort ?? this.config.port}${this.config.path}`;
  }

  get port(): number | undefined {
    return this.boundPort;
  }

  async start(): Promise<void> {
    this.boundPort = await this.listeners.listen(this.config.port);
    this.heartbeat = setInterval(() => {
      for (const connection of this.connections) connection.heartbeat();
    }, this.config.ping_interval * 1000);
    this.heartbeat.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.heartbeat);
    for (const connection of this.connections) connection.close(1001, "server shutting down");
    this.server.close();
    await this.listeners.release(this.config.port);
  }

  private async upgrade(request: http.IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    const url = new URL(request.url ?? "/", "http://localhost");
    if (url.pathname !== this.config.path) return rejectUpgrade(socket, "not_found", `No WebSocket endpoint at ${url.pathname}`);
    const token = bearerToken(request.headers.authorization) ?? url.searchParams.get("token") ?? undefined;
    let principal: Principal | undefined;
    if (token !== undefined || !this.context.authenticator.required) {
      try {
        principal = await this.context.authenticator.authenticate(token);
      } catch (error) {
        const clawError = toClawError(error);
        this.context.logger.info({ gateway: "websocket", reason: clawError.message }, "connection refused");
        return rejectUpgrade(socket, clawError.code, clawError.message);
      }
    }
    this.server.handleUpgrade(request, socket, head, (socketConnection: WebSocket) => {
      const connection = new WebsocketConnection(socketConnection, {
        context: this.context,
        principal,
        maxPayload: this.config.max_payload,
      });
      this.connections.add(connection);
      socketConnection.on("close", () => this.connections.delete(connection));
    });
  }
}

function rejectUpgrade(socket: Duplex, code: ErrorCode, message: string): void {
  const status = errorTable[code].status;
  const body = JSON.stringify({ error: { code, message } });
  socket.end(
    `HTTP/1.1 ${status} ${http.STATUS_CODES[status] ?? "Error"}\r\n` +
      `content-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
  );
}
