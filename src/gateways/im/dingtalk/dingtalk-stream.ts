// DingTalk Stream mode: a ticket from gateway/connections/open, one WebSocket per ticket, ping echo, ACKs, reconnect with backoff.
import os from "node:os";
import WebSocket from "ws";
import type { Logger } from "../../../logging/logger.js";
import type { GatewayEvents } from "../../gateway-events.js";

/** The topic of robot messages (the only CALLBACK subscription). */
export const botMessageTopic = "/v1.0/im/bot/messages/get";
/** Largest frame taken from the platform (a robot message is a few KiB). */
const maxFrameBytes = 1024 * 1024;
/** WebSocket ping interval: a connection that misses a pong is dropped and replaced (the platform's own keepalive can stall unseen). */
const keepaliveMs = 30_000;
/** A connection that lived this long resets the backoff; shorter ones keep doubling it (no hammering on a flapping link). */
const stableMs = 10_000;

export type StreamState = "waiting-for-model" | "connecting" | "connected" | "reconnecting" | "stopped";

export interface DingtalkStreamOptions {
  apiBase: string;
  clientId: string;
  clientSecret: string;
  reconnectMaxDelayMs: number;
  logger: Logger;
  events: GatewayEvents;
  /** A robot message's `data` (parsed JSON), after its ACK went out. */
  onBotMessage(data: unknown): void;
}

interface DownFrame {
  type: string;
  headers: Record<string, unknown> & { messageId?: unknown; topic?: unknown };
  data: unknown;
}

export class DingtalkStream {
  state: StreamState = "waiting-for-model";
  reconnects = 0;
  lastError: string | undefined;
  private socket: WebSocket | undefined;
  private attempt = 0;
  private timer: NodeJS.Timeout | undefined;
  private readonly base: string;

  constructor(private readonly options: DingtalkStreamOptions) {
    this.base = options.apiBase.replace(/\/+$/, "");
  }

  /** Opens the first connection (in the background; failures are retried). */
  connect(): void {
    if (this.state === "stopped") return;
    this.state = this.state === "waiting-for-model" ? "connecting" : "reconnecting";
    void this.open().catch((error: unknown) => {
      this.lastError = (error as Error).message;
      this.options.logger.warn({ err: error }, "DingTalk Stream connection failed; retrying");
      this.scheduleReconnect();
    });
  }

  stop(): void {
    this.state = "stopped";
    clearTimeout(this.timer);
    const socket = this.socket;
    this.socket = undefined;
    if (socket && socket.readyState === WebSocket.OPEN) socket.close(1000, "shutting down");
    else socket?.terminate();
  }

  /** A fresh single-use ticket, then the WebSocket to `endpoint?ticket=…`. */
  private async open(): Promise<void> {
    const response = await fetch(`${this.base}/v1.0/gateway/connections/open`, {
      method: "POST",
      headers: { "content-type": "application/json", accept: "application/json" },
      body: JSON.stringify({
        clientId: this.options.clientId,
        clientSecret: this.options.clientSecret,
        subscriptions: [{ type: "CALLBACK", topic: botMessageTopic }],
        ua: "clawbot",
        localIp: localIp(),
      }),
      signal: AbortSignal.timeout(10_000),
    });
    const answer = (await response.json().catch(() => ({}))) as { endpoint?: unknown; ticket?: unknown; code?: unknown; message?: unknown };
    if (!response.ok || typeof answer.endpoint !== "string" || typeof answer.ticket !== "string") {
      throw new Error(`gateway/connections/open answered HTTP ${response.status} ${String(answer.code ?? "")} ${String(answer.message ?? "")}`.trim().slice(0, 300));
    }
    const url = new URL(answer.endpoint);
    if (url.protocol !== "wss:" && url.protocol !== "ws:") throw new Error(`gateway/connections/open gave a non-WebSocket endpoint (${url.protocol})`);
    url.searchParams.set("ticket", answer.ticket);
    if (this.state === "stopped") return;
    this.attach(new WebSocket(url, { handshakeTimeout: 10_000, maxPayload: maxFrameBytes }));
  }

  private attach(socket: WebSocket): void {
    this.socket = socket;
    let opened = 0;
    let alive = true;
    let keepalive: NodeJS.Timeout | undefined;
    socket.on("open", () => {
      opened = Date.now();
      this.state = "connected";
      this.lastError = undefined;
      this.options.events.connectionOpened();
      keepalive = setInterval(() => {
        if (!alive) return void socket.terminate();
        alive = false;
        socket.ping();
      }, keepaliveMs);
    });
    socket.on("pong", () => (alive = true));
    socket.on("message", (data, isBinary) => {
      alive = true;
      this.options.events.frameReceived();
      if (isBinary) return this.options.events.frameRefused("bad_request");
      this.handle(socket, data.toString());
    });
    socket.on("error", (error) => {
      this.lastError = error.message;
      this.options.logger.warn({ err: error }, "DingTalk Stream connection error");
    });
    socket.on("close", (code) => {
      clearInterval(keepalive);
      if (opened > 0) this.options.events.connectionClosed(code !== 1000);
      if (this.socket !== socket || this.state === "stopped") return;
      this.socket = undefined;
      if (opened > 0 && Date.now() - opened >= stableMs) this.attempt = 0;
      this.scheduleReconnect();
    });
  }

  private handle(socket: WebSocket, text: string): void {
    const frame = parseDownFrame(text);
    if (!frame) return this.options.events.frameRefused("bad_request");
    const { type, headers } = frame;
    if (type === "SYSTEM") {
      if (headers.topic === "ping") return this.send(socket, { code: 200, headers, message: "OK", data: frame.data });
      if (headers.topic === "disconnect") {
        // The platform is about to close this connection: move to a new one now (a new ticket) rather than lose messages.
        this.options.logger.info({ data: String(frame.data).slice(0, 200) }, "DingTalk Stream asked to reconnect");
        this.attempt = 0;
        socket.close(1000, "disconnect requested");
      }
      return;
    }
    if (typeof headers.messageId !== "string" || headers.messageId === "") return this.options.events.frameRefused("bad_request");
    // ACK first (the platform re-pushes what is not ACKed within its window); the answer goes out over HTTP later.
    const result = type === "CALLBACK" ? { response: null } : { status: "SUCCESS", message: "OK" };
    this.send(socket, { code: 200, headers: { contentType: "application/json", messageId: headers.messageId }, message: "OK", data: JSON.stringify(result) });
    if (type !== "CALLBACK" || headers.topic !== botMessageTopic) return;
    let data: unknown;
    try {
      data = typeof frame.data === "string" ? JSON.parse(frame.data) : undefined;
    } catch {
      data = undefined;
    }
    if (data === undefined) return this.options.events.frameRefused("bad_request");
    this.options.onBotMessage(data);
  }

  private send(socket: WebSocket, body: unknown): void {
    if (socket.readyState !== WebSocket.OPEN) return;
    socket.send(JSON.stringify(body), (error) => {
      if (!error) this.options.events.frameSent();
    });
  }

  /** Doubling delay from about 1 s up to the maximum, with jitter (many nodes must not reconnect in step). */
  private scheduleReconnect(): void {
    if (this.state === "stopped") return;
    this.state = "reconnecting";
    this.reconnects += 1;
    const ceiling = Math.min(this.options.reconnectMaxDelayMs, 1000 * 2 ** this.attempt);
    this.attempt = Math.min(this.attempt + 1, 16);
    const delay = ceiling / 2 + Math.random() * (ceiling / 2);
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.connect(), delay);
  }
}

function parseDownFrame(text: string): DownFrame | undefined {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (!value || typeof value !== "object" || Array.isArray(value)) return undefined;
  const frame = value as Record<string, unknown>;
  if (typeof frame.type !== "string" || !frame.headers || typeof frame.headers !== "object" || Array.isArray(frame.headers)) return undefined;
  return { type: frame.type, headers: frame.headers as DownFrame["headers"], data: frame.data };
}

/** The first non-internal IPv4 address (the ticket request reports it; informational on the platform side). */
function localIp(): string {
  for (const addresses of Object.values(os.networkInterfaces())) {
    for (const address of addresses ?? []) if (address.family === "IPv4" && !address.internal) return address.address;
  }
  return "127.0.0.1";
}
