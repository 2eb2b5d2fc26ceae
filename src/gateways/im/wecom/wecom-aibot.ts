// The WeCom AI-bot long connection: we dial WeCom's WebSocket, subscribe, ping, take message callbacks and stream replies back.
import { randomUUID } from "node:crypto";
import WebSocket from "ws";
import type { Logger } from "../../../logging/logger.js";
import type { Gateway, GatewayContext, GatewayStatus } from "../../gateway.js";
import { ignoredGatewayEvents, type GatewayEvents } from "../../gateway-events.js";
import { ImChannel, ImDeliveryError, type DeliveryKind } from "../im-channel.js";
import { splitMessage } from "../message-splitter.js";
import type { WecomAibotConfig } from "./wecom-config.js";

/** A stream reply's content limit (markdown, UTF-8 bytes). */
export const streamContentBytes = 20_480;
/** How long a reply (or the subscription) waits for its ack frame; then it counts as failed and is retried. */
const ackTimeoutMs = 5_000;
const maxBackoffMs = 30_000;
/** Inbound frames larger than this are refused (a message callback is a few KiB). */
const maxFrameBytes = 1024 * 1024;

/** Where one answer goes: the callback's req_id (echoed by every reply) and the stream the answer updates. */
export interface WecomAibotTarget {
  reqId: string;
  streamId: string;
}

type Frame = { cmd?: unknown; headers?: { req_id?: unknown }; body?: unknown; errcode?: unknown; errmsg?: unknown };
interface Waiter {
  resolve(frame: Frame): void;
  reject(error: Error): void;
}

export class WecomAibotGateway implements Gateway {
  readonly name: string;
  private readonly channel: ImChannel<WecomAibotTarget>;
  private readonly events: GatewayEvents;
  private readonly logger: Logger;
  private socket: WebSocket | undefined;
  private state: "stopped" | "connecting" | "subscribing" | "connected" | "reconnecting" = "stopped";
  private stopping = false;
  private attempts = 0;
  private reconnectTimer: NodeJS.Timeout | undefined;
  private pingTimer: NodeJS.Timeout | undefined;
  private missedPings = 0;
  /** Frames waiting for their ack, by req_id; replies to one callback share its req_id, so each id holds a FIFO. */
  private readonly waiting = new Map<string, Waiter[]>();

  constructor(
    private readonly config: WecomAibotConfig,
    context: GatewayContext,
  ) {
    this.name = `wecom aibot ${config.ws_url}`;
    this.events = context.events ?? ignoredGatewayEvents;
    this.logger = context.logger.child({ gateway: "wecom", mode: "aibot" });
    this.channel = new ImChannel<WecomAibotTarget>({
      platform: "wecom",
      // A WeCom member receives at most 30 messages a minute (more are dropped silently by the platform).
      platformRates: { userPerMinute: 30, groupPerMinute: 30 },
      name: this.name,
      config,
      context,
      maxMessageBytes: streamContentBytes,
      streaming: { intervalMs: 1_000 },
      deliver: (target, text, kind, piece) => this.deliver(target, text, kind, piece),
    });
  }

  async start(): Promise<void> {
    this.stopping = false;
    this.connect();
  }

  async stop(): Promise<void> {
    this.stopping = true;
    clearTimeout(this.reconnectTimer);
    await this.channel.close(5_000);
    this.teardown("stopped");
    this.state = "stopped";
  }

  status(): GatewayStatus {
    const connected = this.state === "connected";
    return { type: "wecom", name: this.name, state: this.state, healthy: connected, connections: connected ? 1 : 0, ...this.channel.stats() };
  }

  private connect(): void {
    this.state = this.attempts === 0 ? "connecting" : "reconnecting";
    const socket = new WebSocket(this.config.ws_url, { maxPayload: maxFrameBytes, handshakeTimeout: 10_000 });
    this.socket = socket;
    let opened = false;
    socket.on("open", () => {
      opened = true;
      this.events.connectionOpened();
      void this.subscribe(socket);
    });
    socket.on("message", (data, isBinary) => this.onFrame(socket, data as Buffer, isBinary));
    socket.on("error", (error) => this.logger.warn({ err: error }, "WeCom AI-bot connection error"));
    socket.on("close", (code) => {
      if (opened) this.events.connectionClosed(code !== 1000);
      if (this.socket !== socket) return;
      this.teardown(`connection closed (${code})`);
      if (!this.stopping) this.scheduleReconnect();
    });
  }

  private async subscribe(socket: WebSocket): Promise<void> {
    this.state = "subscribing";
    try {
      const answer = await this.request(socket, { cmd: "aibot_subscribe", headers: { req_id: `aibot_subscribe_${randomUUID()}` }, body: { bot_id: this.config.bot_id, secret: this.config.secret } });
      if (answer.errcode !== 0) throw new Error(`errcode ${String(answer.errcode)}: ${String(answer.errmsg ?? "")}`.slice(0, 300));
    } catch (error) {
      this.logger.error({ err: error }, "WeCom refused the AI bot's subscription (check bot_id and secret); retrying");
      return void socket.terminate();
    }
    this.logger.info("WeCom AI bot subscribed");
    this.attempts = 0;
    this.state = "connected";
    this.missedPings = 0;
    this.pingTimer = setInterval(() => this.ping(socket), this.config.ping_interval * 1000);
  }

  /** Two heartbeats without an ack: the connection is dead (a silent drop), so it is replaced. */
  private ping(socket: WebSocket): void {
    if (this.missedPings >= 2) {
      this.logger.warn("WeCom AI-bot heartbeat missed twice; reconnecting");
      return void socket.terminate();
    }
    this.missedPings += 1;
    this.request(socket, { cmd: "ping", headers: { req_id: `ping_${randomUUID()}` } }).then(
      () => (this.missedPings = 0),
      () => {},
    );
  }

  private scheduleReconnect(): void {
    this.attempts += 1;
    this.state = "reconnecting";
    const delay = Math.min(maxBackoffMs, 500 * 2 ** Math.min(this.attempts - 1, 8)) * (0.75 + Math.random() / 2);
    this.reconnectTimer = setTimeout(() => this.connect(), delay);
  }

  /** Drops the socket and fails every frame waiting for an ack (their deliveries are retried on the next connection). */
  private teardown(reason: string): void {
    clearInterval(this.pingTimer);
    const socket = this.socket;
    this.socket = undefined;
    if (socket && socket.readyState !== WebSocket.CLOSED) socket.terminate();
    for (const waiters of this.waiting.values()) for (const waiter of waiters) waiter.reject(new Error(reason));
    this.waiting.clear();
  }

  private request(socket: WebSocket, frame: { cmd: string; headers: { req_id: string }; body?: unknown }): Promise<Frame> {
    const reqId = frame.headers.req_id;
    return new Promise<Frame>((resolve, reject) => {
      const timer = setTimeout(() => settle(new Error(`no ack for ${frame.cmd} within ${ackTimeoutMs} ms`)), ackTimeoutMs);
      const waiter: Waiter = { resolve: (answer) => settle(undefined, answer), reject: (error) => settle(error) };
      const settle = (error: Error | undefined, answer?: Frame): void => {
        clearTimeout(timer);
        const waiters = this.waiting.get(reqId);
        const index = waiters?.indexOf(waiter) ?? -1;
        if (index >= 0) waiters!.splice(index, 1);
        if (waiters?.length === 0) this.waiting.delete(reqId);
        if (error) reject(error);
        else resolve(answer!);
      };
      this.waiting.set(reqId, [...(this.waiting.get(reqId) ?? []), waiter]);
      socket.send(JSON.stringify(frame), (error) => {
        // Replies are counted by the channel once acked.
        if (error) waiter.reject(error);
        else if (frame.cmd !== "aibot_respond_msg") this.events.frameSent();
      });
    });
  }

  /** Message callbacks are counted by the channel; every other frame here. */
  private onFrame(socket: WebSocket, data: Buffer, isBinary: boolean): void {
    let frame: Frame;
    try {
      if (isBinary) throw new Error("binary");
      frame = JSON.parse(data.toString("utf8")) as Frame;
      if (typeof frame !== "object" || frame === null || Array.isArray(frame)) throw new Error("not an object");
    } catch {
      this.events.frameReceived();
      this.events.frameRefused("bad_request");
      return;
    }
    const reqId = typeof frame.headers?.req_id === "string" ? frame.headers.req_id : undefined;
    if (frame.cmd === "aibot_msg_callback" && reqId) return this.onMessage(reqId, frame.body);
    this.events.frameReceived();
    if (frame.cmd === "aibot_event_callback") return this.onEvent(socket, frame.body);
    // Acks carry no cmd: they answer the oldest frame sent with their req_id.
    const waiter = reqId === undefined ? undefined : this.waiting.get(reqId)?.[0];
    if (frame.cmd === undefined && waiter) return waiter.resolve(frame);
    this.events.frameRefused("bad_request");
  }

  private onEvent(socket: WebSocket, body: unknown): void {
    const event = (body as { event?: { eventtype?: unknown } } | undefined)?.event;
    if (event?.eventtype === "disconnected_event") {
      // A newer connection with the same bot took over: reconnect (with backoff) rather than fight over it silently.
      this.logger.warn("WeCom closed this AI-bot connection for a newer one; reconnecting");
      return void socket.terminate();
    }
    this.logger.debug({ eventtype: event?.eventtype }, "WeCom AI-bot event ignored");
  }

  private onMessage(reqId: string, body: unknown): void {
    const message = body as { msgid?: unknown; chatid?: unknown; chattype?: unknown; from?: { userid?: unknown }; msgtype?: unknown; text?: { content?: unknown } } | undefined;
    const userId = message?.from?.userid;
    if (typeof message?.msgid !== "string" || typeof userId !== "string" || message.msgid === "" || userId === "") {
      this.events.frameReceived();
      return this.events.frameRefused("bad_request");
    }
    if (message.msgtype !== "text" || typeof message.text?.content !== "string") {
      this.events.frameReceived();
      return void this.logger.debug({ msgtype: message.msgtype }, "WeCom AI-bot message ignored (not text)");
    }
    const group = message.chattype === "group";
    const chatId = group && typeof message.chatid === "string" && message.chatid !== "" ? message.chatid : userId;
    // WeCom delivers a group message to a bot only when it is @-mentioned; the leading @name is that mention.
    const text = group ? message.text.content.replace(/^\s*@\S+\s*/, "") : message.text.content;
    this.channel.receive(
      { messageId: message.msgid, conversationId: chatId, chatType: group ? "group" : "direct", senderId: userId, text, mentioned: group },
      { reqId, streamId: randomUUID().replace(/-/g, "") },
    );
  }

  /** One stream update; the final answer's extra pieces (beyond 20 KiB) go out as further finished streams on the same req_id. */
  private async deliver(target: WecomAibotTarget, text: string, kind: DeliveryKind, piece: { index: number; count: number }): Promise<void> {
    const socket = this.socket;
    if (!socket || this.state !== "connected") throw new ImDeliveryError("the WeCom AI-bot connection is down", true);
    const content = kind === "partial" ? (splitMessage(text, streamContentBytes)[0] ?? "") : text;
    const id = kind === "final" && piece.index > 0 ? `${target.streamId}-${piece.index}` : target.streamId;
    let answer: Frame;
    try {
      answer = await this.request(socket, { cmd: "aibot_respond_msg", headers: { req_id: target.reqId }, body: { msgtype: "stream", stream: { id, finish: kind === "final", content } } });
    } catch (error) {
      throw new ImDeliveryError(`stream reply failed: ${(error as Error).message}`, true);
    }
    if (answer.errcode !== 0) {
      const busy = answer.errcode === -1 || answer.errcode === 45009 || answer.errcode === 45033;
      throw new ImDeliveryError(`WeCom refused the stream reply: errcode ${String(answer.errcode)} ${String(answer.errmsg ?? "")}`.slice(0, 300), busy, busy ? 1_000 : undefined);
    }
  }
}
