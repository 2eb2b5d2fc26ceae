// A local Feishu: tenant_access_token, reply and card update, the long connection's endpoint and pbbp2 WebSocket side, and a webhook signer.
import crypto from "node:crypto";
import http from "node:http";
import type { AddressInfo } from "node:net";
import protobuf from "protobufjs";
import { WebSocketServer, type WebSocket } from "ws";

export const feishuApp = { appId: "cli_a1b2c3d4e5f60718", appSecret: "sim-app-secret", verificationToken: "sim-verification-token", encryptKey: "sim-encrypt-key" };

/** pbbp2.Frame as the SDK's generated code reads it (field numbers from the shared notes); the two uint64 ids are read as
 * uint32 here (same varint wire type; protobufjs needs the absent `long` package for 64-bit, and the simulator's ids are small). */
const { root } = protobuf.parse(`syntax = "proto2"; package pbbp2;
message Header { required string key = 1; required string value = 2; }
message Frame { required uint32 SeqID = 1; required uint32 LogID = 2; required int32 service = 3; required int32 method = 4;
  repeated Header headers = 5; optional string payload_encoding = 6; optional string payload_type = 7; optional bytes payload = 8; optional string LogIDNew = 9; }`);
const Frame = root.lookupType("pbbp2.Frame");

export interface FeishuFrame {
  SeqID: number;
  LogID: number;
  service: number;
  method: number;
  headers: { key: string; value: string }[];
  payload?: Uint8Array;
}
export const encodeFrame = (frame: FeishuFrame): Uint8Array => Frame.encode(Frame.fromObject(frame)).finish();
export const decodeFrame = (bytes: Uint8Array): FeishuFrame => Frame.toObject(Frame.decode(bytes), { longs: Number, defaults: true }) as FeishuFrame;
const headerOf = (frame: FeishuFrame, key: string) => frame.headers.find((header) => header.key === key)?.value;

export interface BotMessage {
  kind: "reply" | "update";
  /** reply: the user's message replied to; update: the card updated. */
  messageId: string;
  /** The bot's message: the reply's new id, or the card updated. */
  botMessageId: string;
  msgType?: string;
  /** The card's markdown, or the text message's text. */
  text: string;
}

/** A v2 `im.message.receive_v1` envelope. */
export function messageEvent(options: { messageId: string; text: string; chatId?: string; chatType?: "p2p" | "group"; openId?: string; eventId?: string; mentions?: unknown[] }) {
  return {
    schema: "2.0",
    header: { event_id: options.eventId ?? crypto.randomUUID(), event_type: "im.message.receive_v1", create_time: String(Date.now()), token: feishuApp.verificationToken, app_id: feishuApp.appId, tenant_key: "tenant-sim" },
    event: {
      sender: { sender_id: { open_id: options.openId ?? "ou_alice", user_id: "alice", union_id: "on_alice" }, sender_type: "user", tenant_key: "tenant-sim" },
      message: { message_id: options.messageId, chat_id: options.chatId ?? "oc_chat1", chat_type: options.chatType ?? "p2p", message_type: "text", content: JSON.stringify({ text: options.text }), mentions: options.mentions ?? [] },
    },
  };
}

/** The platform's side of an encrypted delivery: base64(iv ‖ AES-256-CBC(key = sha256(encrypt_key), PKCS#7)). */
export function encryptDelivery(json: unknown, encryptKey: string): string {
  return encryptText(JSON.stringify(json), encryptKey);
}

/** As encryptDelivery, for any plaintext (the hostile suite's). */
export function encryptText(plaintext: string, encryptKey: string): string {
  const key = crypto.createHash("sha256").update(encryptKey).digest();
  const iv = crypto.randomBytes(16);
  const cipher = crypto.createCipheriv("aes-256-cbc", key, iv);
  return Buffer.concat([iv, cipher.update(plaintext, "utf8"), cipher.final()]).toString("base64");
}

/** An encrypted, signed delivery (headers and raw body) as Feishu POSTs it; `timestamp` in seconds. */
export function signedDelivery(json: unknown, options: { encryptKey?: string; timestamp?: number; signWith?: string; plaintext?: string } = {}) {
  const encryptKey = options.encryptKey ?? feishuApp.encryptKey;
  const body = JSON.stringify({ encrypt: encryptText(options.plaintext ?? JSON.stringify(json), encryptKey) });
  const timestamp = String(options.timestamp ?? Math.floor(Date.now() / 1000));
  const nonce = crypto.randomBytes(8).toString("hex");
  const signature = crypto.createHash("sha256").update(timestamp + nonce + (options.signWith ?? encryptKey) + body).digest("hex");
  return { body, headers: { "content-type": "application/json; charset=utf-8", "x-lark-request-timestamp": timestamp, "x-lark-request-nonce": nonce, "x-lark-signature": signature } };
}

export class FeishuSimulator {
  readonly messages: BotMessage[] = [];
  /** ACK payloads of pushed events, by their frame message_id. */
  readonly acks = new Map<string, { code: number }>();
  tokenCalls = 0;
  connections = 0;
  private validTokens = new Set<string>();
  private readonly uuids = new Map<string, string>();
  private sockets = new Set<WebSocket>();
  private readonly server = http.createServer((request, response) => void this.serve(request, response));
  private readonly wss = new WebSocketServer({ noServer: true });

  static async start(): Promise<FeishuSimulator> {
    const simulator = new FeishuSimulator();
    simulator.server.on("upgrade", (request, socket, head) => simulator.wss.handleUpgrade(request, socket, head, (ws) => simulator.accept(ws)));
    await new Promise<void>((resolve) => simulator.server.listen(0, "127.0.0.1", resolve));
    return simulator;
  }

  get apiBase(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  /** The answer to the user's message `messageId` as the user sees it now: its reply, as last updated (undefined before any). */
  answerTo(messageId: string): string | undefined {
    const reply = this.messages.find((message) => message.kind === "reply" && message.messageId === messageId);
    if (!reply) return undefined;
    return this.messages.filter((message) => message.botMessageId === reply.botMessageId).at(-1)?.text;
  }

  /** Replies sent to the user's message `messageId`. */
  repliesTo(messageId: string): BotMessage[] {
    return this.messages.filter((message) => message.kind === "reply" && message.messageId === messageId);
  }

  /** Long connections open now. */
  get open(): number {
    return this.sockets.size;
  }

  /** Every token issued so far stops working (the platform answers 99991663 until a new one is fetched). */
  expireTokens(): void {
    this.validTokens.clear();
  }

  /** Pushes an event on the open long connection; resolves with the frame's message_id (its ACK lands in `acks`). */
  push(event: unknown): string {
    const socket = [...this.sockets][0];
    if (!socket) throw new Error("no long connection is open");
    const frameId = crypto.randomUUID();
    const headers = [
      { key: "type", value: "event" },
      { key: "message_id", value: frameId },
      { key: "sum", value: "1" },
      { key: "seq", value: "0" },
      { key: "trace_id", value: crypto.randomUUID() },
    ];
    socket.send(encodeFrame({ SeqID: 0, LogID: 0, service: 7, method: 1, headers, payload: Buffer.from(JSON.stringify(event)) }));
    return frameId;
  }

  /** Sends raw bytes as a binary frame (the hostile suite). */
  pushRaw(bytes: Uint8Array): void {
    for (const socket of this.sockets) socket.send(bytes);
  }

  /** Cuts every long connection without a close frame (a network drop). */
  drop(): void {
    for (const socket of this.sockets) socket.terminate();
  }

  async close(): Promise<void> {
    this.drop();
    this.wss.close();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private accept(socket: WebSocket): void {
    this.sockets.add(socket);
    this.connections += 1;
    socket.on("close", () => this.sockets.delete(socket));
    socket.on("message", (data: Buffer) => {
      const frame = decodeFrame(data);
      const type = headerOf(frame, "type");
      if (frame.method === 0 && type === "ping") {
        const pong = { ...frame, headers: [{ key: "type", value: "pong" }], payload: Buffer.from(JSON.stringify(clientConfig)) };
        socket.send(encodeFrame(pong));
      } else if (frame.method === 1 && type === "event") {
        this.acks.set(headerOf(frame, "message_id") ?? "", JSON.parse(Buffer.from(frame.payload ?? []).toString("utf8")));
      }
    });
  }

  private async serve(request: http.IncomingMessage, response: http.ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of request) chunks.push(chunk as Buffer);
    const body = chunks.length > 0 ? (JSON.parse(Buffer.concat(chunks).toString("utf8")) as Record<string, string>) : {};
    const url = new URL(request.url ?? "/", this.apiBase);
    const send = (status: number, json: unknown): void => {
      response.writeHead(status, { "content-type": "application/json" }).end(JSON.stringify(json));
    };
    if (url.pathname === "/callback/ws/endpoint") {
      if (body.AppID !== feishuApp.appId || body.AppSecret !== feishuApp.appSecret) return send(200, { code: 514, msg: "auth failed", data: {} });
      const wsUrl = `${this.apiBase.replace("http", "ws")}/ws?device_id=sim-device&service_id=7`;
      return send(200, { code: 0, msg: "ok", data: { URL: wsUrl, ClientConfig: clientConfig } });
    }
    if (url.pathname === "/open-apis/auth/v3/tenant_access_token/internal") {
      if (body.app_id !== feishuApp.appId || body.app_secret !== feishuApp.appSecret) return send(400, { code: 10014, msg: "app secret invalid" });
      this.tokenCalls += 1;
      const token = `t-sim-${this.tokenCalls}`;
      this.validTokens.add(token);
      return send(200, { code: 0, msg: "ok", tenant_access_token: token, expire: 7200 });
    }
    const token = (request.headers.authorization ?? "").replace(/^Bearer /, "");
    if (!this.validTokens.has(token)) return send(400, { code: 99991663, msg: "Invalid access token for authorization." });
    const reply = /^\/open-apis\/im\/v1\/messages\/([^/]+)\/reply$/.exec(url.pathname);
    if (request.method === "POST" && reply?.[1]) {
      // The platform's idempotency: a retried reply with the same uuid is the same message.
      const known = body.uuid ? this.uuids.get(body.uuid) : undefined;
      if (known) return send(200, { code: 0, msg: "ok", data: { message_id: known } });
      const id = `om_bot_${this.messages.length + 1}`;
      if (body.uuid) this.uuids.set(body.uuid, id);
      this.messages.push({ kind: "reply", messageId: decodeURIComponent(reply[1]), botMessageId: id, msgType: body.msg_type, text: contentText(body.msg_type ?? "", body.content ?? "") });
      return send(200, { code: 0, msg: "ok", data: { message_id: id } });
    }
    const update = /^\/open-apis\/im\/v1\/messages\/([^/]+)$/.exec(url.pathname);
    if (request.method === "PATCH" && update?.[1]) {
      this.messages.push({ kind: "update", messageId: decodeURIComponent(update[1]), botMessageId: decodeURIComponent(update[1]), text: contentText("interactive", body.content ?? "") });
      return send(200, { code: 0, msg: "ok", data: {} });
    }
    send(404, { code: 404, msg: "not found" });
  }
}

/** Seconds; a quick reconnect so the drop test does not wait the platform's minutes. */
const clientConfig = { PingInterval: 120, ReconnectCount: -1, ReconnectInterval: 0.2, ReconnectNonce: 0 };

function contentText(msgType: string, content: string): string {
  const parsed = JSON.parse(content) as { text?: string; elements?: { content?: string }[] };
  return msgType === "text" ? (parsed.text ?? "") : (parsed.elements ?? []).map((element) => element.content ?? "").join("");
}
