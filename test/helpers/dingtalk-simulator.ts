// DingTalk's side for tests: ticket, token and send endpoints, sessionWebhooks, the Stream WebSocket (pings, pushes, re-pushes), a callback signer.
import { randomUUID } from "node:crypto";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { WebSocketServer, type WebSocket } from "ws";
import { callbackSign } from "../../src/gateways/im/dingtalk/dingtalk-signature.js";

/** One answer the adapter sent, by whichever way. */
export interface SentMessage {
  via: "sessionWebhook" | "batchSend" | "groupSend";
  /** The staff id (batchSend), the openConversationId (groupSend) or the session (sessionWebhook). */
  to: string;
  title: string;
  text: string;
  /** When it arrived (Date.now()). */
  at: number;
}

export interface PushedFrame {
  specVersion: string;
  type: string;
  headers: Record<string, unknown>;
  data: string;
}

export class DingtalkSimulator {
  readonly sent: SentMessage[] = [];
  /** Up frames from the adapter (ACKs, ping echoes), in order, with when they came. */
  readonly upFrames: { at: number; frame: Record<string, unknown> }[] = [];
  ticketsIssued = 0;
  tokensIssued = 0;
  connections = 0;
  /** Send calls refused with 401 (a revoked token), and with 429 (throttled). */
  refusedTokens = 0;
  /** Re-pushes of un-ACKed messages. */
  repushes = 0;
  /** The next this-many OpenAPI sends answer 429 Throttling. */
  throttleNext = 0;
  private readonly server = http.createServer((request, response) => void this.serve(request, response));
  private readonly wss = new WebSocketServer({ noServer: true });
  private readonly tickets = new Set<string>();
  private readonly tokens = new Set<string>();
  private readonly sessions = new Map<string, number>();
  /** Pushed CALLBACK frames waiting for their ACK (messageId → frame). */
  private readonly unacked = new Map<string, { frame: PushedFrame; pushedAt: number }>();
  private socket: WebSocket | undefined;
  private repushTimer: NodeJS.Timeout | undefined;
  port = 0;

  constructor(readonly clientId = "dingsimapp", readonly clientSecret = "sim-secret-0123456789abcdef", private readonly options: { repushAfterMs?: number; tokenLifetime?: number } = {}) {
    this.server.on("upgrade", (request, socket, head) => {
      const url = new URL(request.url ?? "/", "http://x");
      const ticket = url.searchParams.get("ticket") ?? "";
      // Tickets are single-use, as on the platform.
      if (url.pathname !== "/connect" || !this.tickets.delete(ticket)) {
        socket.end("HTTP/1.1 401 Unauthorized\r\ncontent-length: 0\r\nconnection: close\r\n\r\n");
        return;
      }
      this.wss.handleUpgrade(request, socket, head, (client) => this.accept(client));
    });
  }

  get apiBase(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  get connected(): boolean {
    return this.socket?.readyState === 1;
  }

  async start(): Promise<this> {
    await new Promise<void>((resolve) => this.server.listen(0, "127.0.0.1", resolve));
    this.port = (this.server.address() as AddressInfo).port;
    this.repushTimer = setInterval(() => this.repush(), 100);
    return this;
  }

  async close(): Promise<void> {
    clearInterval(this.repushTimer);
    this.socket?.terminate();
    this.wss.close();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  /** A robot message's data as the platform sends it; `webhook: "expired"` gives one whose sessionWebhook has expired. */
  botMessage(text: string, options: { group?: boolean; mentioned?: boolean; staffId?: string; msgId?: string; webhook?: "valid" | "expired" | "none" } = {}): Record<string, unknown> {
    const session = randomUUID();
    const expires = options.webhook === "expired" ? Date.now() - 1000 : Date.now() + 90 * 60_000;
    this.sessions.set(session, expires);
    const staffId = options.staffId ?? "staff001";
    return {
      conversationId: options.group ? "cidGroup001==" : `cidDirect${staffId}==`,
      atUsers: options.mentioned ? [{ dingtalkId: "$:LWCP_v1:$bot" }] : [],
      chatbotCorpId: "dingcorp",
      chatbotUserId: "$:LWCP_v1:$bot",
      msgId: options.msgId ?? `msg${randomUUID()}`,
      senderNick: "Tester",
      isAdmin: false,
      senderStaffId: staffId,
      ...(options.webhook === "none" ? {} : { sessionWebhook: `${this.apiBase}/robot/sendBySession?session=${session}`, sessionWebhookExpiredTime: expires }),
      createAt: Date.now(),
      senderCorpId: "dingcorp",
      conversationType: options.group ? "2" : "1",
      senderId: `$:LWCP_v1:$${staffId}`,
      isInAtList: options.group ? options.mentioned === true : true,
      text: { content: text },
      robotCode: this.clientId,
      msgtype: "text",
    };
  }

  /** Pushes a robot message over the Stream connection (queued until one is open); re-pushed until ACKed. */
  push(data: Record<string, unknown>, options: { dropAfterSend?: boolean } = {}): string {
    const messageId = randomUUID();
    const frame: PushedFrame = {
      specVersion: "1.0",
      type: "CALLBACK",
      headers: { appId: this.clientId, connectionId: "c1", contentType: "application/json", messageId, time: String(Date.now()), topic: "/v1.0/im/bot/messages/get" },
      data: JSON.stringify(data),
    };
    this.unacked.set(messageId, { frame, pushedAt: 0 });
    if (this.socket?.readyState === 1) {
      this.unacked.set(messageId, { frame, pushedAt: Date.now() });
      this.socket.send(JSON.stringify(frame));
      if (options.dropAfterSend) this.socket.terminate();
    }
    return messageId;
  }

  /** Sends any text as a down frame (the fuzz), on the open connection. */
  sendRaw(text: string | Buffer): void {
    this.socket?.send(text);
  }

  /** A SYSTEM ping; resolves with the adapter's echo. */
  async ping(timeoutMs = 5000): Promise<Record<string, unknown>> {
    const messageId = randomUUID();
    const since = this.upFrames.length;
    this.socket?.send(JSON.stringify({ specVersion: "1.0", type: "SYSTEM", headers: { contentType: "application/json", messageId, time: String(Date.now()), topic: "ping" }, data: JSON.stringify({ opaque: messageId }) }));
    const found = await waitFor(() => this.upFrames.slice(since).find((up) => (up.frame.headers as Record<string, unknown> | undefined)?.messageId === messageId), timeoutMs, "the ping echo");
    return found.frame;
  }

  /** The platform's `disconnect` (then it closes the socket a moment later). */
  disconnect(): void {
    const socket = this.socket;
    socket?.send(JSON.stringify({ specVersion: "1.0", type: "SYSTEM", headers: { contentType: "application/json", messageId: randomUUID(), topic: "disconnect" }, data: JSON.stringify({ reason: "persistent connection is timeout" }) }));
    setTimeout(() => socket?.terminate(), 2000).unref();
  }

  /** Drops the connection without a close frame (a network failure). */
  drop(): void {
    this.socket?.terminate();
  }

  /** Revokes every token issued so far (the next send with one gets 401 InvalidAuthentication). */
  expireTokens(): void {
    this.tokens.clear();
  }

  /** The headers DingTalk's robot callback carries, signed for `now` (ms) with `secret`. */
  callbackHeaders(now = Date.now(), secret = this.clientSecret): Record<string, string> {
    return { "content-type": "application/json", timestamp: String(now), sign: callbackSign(String(now), secret) };
  }

  /** Whether every pushed message was ACKed. */
  get allAcked(): boolean {
    return this.unacked.size === 0;
  }

  acked(messageId: string): boolean {
    return this.upFrames.some((up) => (up.frame.headers as Record<string, unknown> | undefined)?.messageId === messageId && up.frame.code === 200);
  }

  private accept(client: WebSocket): void {
    this.socket?.terminate();
    this.socket = client;
    this.connections += 1;
    client.on("message", (data) => {
      let frame: Record<string, unknown>;
      try {
        frame = JSON.parse(data.toString()) as Record<string, unknown>;
      } catch {
        return;
      }
      this.upFrames.push({ at: Date.now(), frame });
      const messageId = (frame.headers as Record<string, unknown> | undefined)?.messageId;
      if (typeof messageId === "string" && frame.code === 200) this.unacked.delete(messageId);
    });
    client.send(JSON.stringify({ specVersion: "1.0", type: "SYSTEM", headers: { contentType: "application/json", messageId: randomUUID(), topic: "CONNECTED" }, data: "{}" }));
    // What was pushed while nobody was connected, or not ACKed on the last connection, goes out now.
    this.repush(true);
  }

  private repush(all = false): void {
    const socket = this.socket;
    if (socket?.readyState !== 1) return;
    const window = this.options.repushAfterMs ?? 1500;
    for (const [messageId, entry] of this.unacked) {
      if (!all && entry.pushedAt > 0 && Date.now() - entry.pushedAt < window) continue;
      if (entry.pushedAt > 0) this.repushes += 1;
      entry.pushedAt = Date.now();
      socket.send(JSON.stringify(entry.frame));
      void messageId;
    }
  }

  private async serve(request: http.IncomingMessage, response: http.ServerResponse): Promise<void> {
    const url = new URL(request.url ?? "/", "http://x");
    const chunks: Buffer[] = [];
    for await (const chunk of request) chunks.push(chunk as Buffer);
    let body: Record<string, unknown> = {};
    try {
      body = JSON.parse(Buffer.concat(chunks).toString("utf8") || "{}") as Record<string, unknown>;
    } catch {
      return json(response, 400, { code: "InvalidParameter", message: "body is not JSON" });
    }
    const token = request.headers["x-acs-dingtalk-access-token"];
    switch (`${request.method} ${url.pathname}`) {
      case "POST /v1.0/gateway/connections/open": {
        if (request.headers.accept !== "application/json") return json(response, 406, { code: "NotAcceptable" });
        if (body.clientId !== this.clientId || body.clientSecret !== this.clientSecret) return json(response, 401, { code: "InvalidAuthentication", message: "bad client" });
        const ticket = randomUUID();
        this.tickets.add(ticket);
        this.ticketsIssued += 1;
        return json(response, 200, { endpoint: `ws://127.0.0.1:${this.port}/connect`, ticket });
      }
      case "POST /v1.0/oauth2/accessToken": {
        if (body.appKey !== this.clientId || body.appSecret !== this.clientSecret) return json(response, 400, { code: "invalidClientIdOrSecret", message: "bad app" });
        const issued = `tok-${randomUUID()}`;
        this.tokens.add(issued);
        this.tokensIssued += 1;
        return json(response, 200, { accessToken: issued, expireIn: this.options.tokenLifetime ?? 7200 });
      }
      case "POST /v1.0/robot/oToMessages/batchSend":
      case "POST /v1.0/robot/groupMessages/send": {
        if (typeof token !== "string" || !this.tokens.has(token)) {
          this.refusedTokens += 1;
          return json(response, 401, { code: "InvalidAuthentication", message: "token is invalid or expired" });
        }
        if (this.throttleNext > 0) {
          this.throttleNext -= 1;
          return json(response, 429, { code: "Throttling.Api", message: "too fast" }, { "retry-after": "0" });
        }
        if (body.robotCode !== this.clientId || body.msgKey !== "sampleMarkdown" || typeof body.msgParam !== "string") return json(response, 400, { code: "InvalidParameter", message: "robotCode/msgKey/msgParam" });
        const param = JSON.parse(body.msgParam) as { title: string; text: string };
        const group = url.pathname.endsWith("groupMessages/send");
        const to = group ? String(body.openConversationId) : (body.userIds as string[]).join(",");
        this.sent.push({ via: group ? "groupSend" : "batchSend", to, title: param.title, text: param.text, at: Date.now() });
        return json(response, 200, group ? { processQueryKey: randomUUID() } : { processQueryKey: randomUUID(), invalidStaffIdList: [], flowControlledStaffIdList: [] });
      }
      case "POST /robot/sendBySession": {
        const session = url.searchParams.get("session") ?? "";
        const expires = this.sessions.get(session);
        if (expires === undefined || expires < Date.now()) return json(response, 200, { errcode: 300001, errmsg: "session expired" });
        const markdown = body.markdown as { title: string; text: string } | undefined;
        if (body.msgtype !== "markdown" || !markdown) return json(response, 200, { errcode: 40035, errmsg: "bad msgtype" });
        this.sent.push({ via: "sessionWebhook", to: session, title: markdown.title, text: markdown.text, at: Date.now() });
        return json(response, 200, { errcode: 0, errmsg: "ok" });
      }
      default:
        return json(response, 404, { code: "NotFound" });
    }
  }
}

function json(response: http.ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  response.writeHead(status, { "content-type": "application/json", ...headers });
  response.end(JSON.stringify(body));
}

/** Polls `find` until it returns something. */
export async function waitFor<T>(find: () => T | undefined | false, timeoutMs: number, what: string): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const found = find();
    if (found) return found;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}
