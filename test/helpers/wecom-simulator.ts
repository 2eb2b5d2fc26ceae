// A local WeCom: gettoken and message/send, a client that signs and encrypts callback deliveries, and the AI-bot WebSocket side.
import { randomBytes, randomUUID } from "node:crypto";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { WebSocketServer, type WebSocket } from "ws";
import { encryptMessage, messageSignature } from "../../src/gateways/im/wecom/wx-biz-msg-crypt.js";

export const wecomApp = { corpId: "wwsimcorp0001", corpSecret: "sim-corp-secret", agentId: 1000002, token: "SimToken42", encodingAesKey: "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG" };
export const wecomBot = { botId: "aibot-sim", secret: "aibot-secret" };

export interface SentMessage {
  touser: string;
  msgtype: string;
  content: string;
  agentid: number;
}
export interface StreamReply {
  reqId: string;
  id: string;
  finish: boolean;
  content: string;
}

/** Polls `condition` every 20 ms until it holds (a failing test names `what`). */
export async function until<T>(condition: () => T | undefined | false, what: string, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = condition();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

export class WecomSimulator {
  readonly sent: SentMessage[] = [];
  readonly streams: StreamReply[] = [];
  tokenCalls = 0;
  /** Each aibot_subscribe the bot side saw: "ok" or "refused". */
  readonly subscriptions: string[] = [];
  private token = "";
  private failNext: number[] = [];
  private readonly server = http.createServer((request, response) => void this.serve(request, response));
  private readonly wss = new WebSocketServer({ port: 0, host: "127.0.0.1" });
  private readonly wssListening = new Promise<void>((resolve) => this.wss.once("listening", resolve));
  private bot: WebSocket | undefined;

  static async start(): Promise<WecomSimulator> {
    const simulator = new WecomSimulator();
    await new Promise<void>((resolve) => simulator.server.listen(0, "127.0.0.1", resolve));
    await simulator.wssListening;
    simulator.wss.on("connection", (socket) => simulator.acceptBot(socket));
    return simulator;
  }

  get apiBase(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }
  get wsUrl(): string {
    return `ws://127.0.0.1:${(this.wss.address() as AddressInfo).port}`;
  }

  /** The current access token stops working (errcode 42001) before its expires_in: WeCom may do that. */
  expireToken(): void {
    this.token = `expired-${this.token}`;
  }
  /** The next message/send calls answer these errcodes (e.g. 45009 rate limited). */
  failNextSends(...errcodes: number[]): void {
    this.failNext.push(...errcodes);
  }

  /** Signs a callback query; `encrypted` is what the signature covers. */
  signedQuery(encrypted: string, options: { timestamp?: number; forge?: boolean } = {}): URLSearchParams {
    const timestamp = String(options.timestamp ?? Math.floor(Date.now() / 1000));
    const nonce = String(randomBytes(4).readUInt32BE());
    let signature = messageSignature(wecomApp.token, timestamp, nonce, encrypted);
    if (options.forge) signature = `${signature[0] === "0" ? "1" : "0"}${signature.slice(1)}`;
    return new URLSearchParams({ msg_signature: signature, timestamp, nonce });
  }

  /** WeCom's URL verification: GET with an encrypted echostr. */
  async verifyUrl(url: string, echo: string, options: { timestamp?: number; forge?: boolean } = {}): Promise<{ status: number; body: string }> {
    const echostr = encryptMessage({ encodingAesKey: wecomApp.encodingAesKey, message: echo, receiveId: wecomApp.corpId });
    const query = this.signedQuery(echostr, options);
    query.set("echostr", echostr);
    const response = await fetch(`${url}?${query}`);
    return { status: response.status, body: await response.text() };
  }

  /** A member's text message, encrypted into the XML envelope and POSTed like WeCom does. */
  async postText(url: string, message: { from: string; content: string; msgId: string }, options: { timestamp?: number; forge?: boolean } = {}): Promise<{ status: number; body: string }> {
    const inner =
      `<xml><ToUserName><![CDATA[${wecomApp.corpId}]]></ToUserName>\n<FromUserName><![CDATA[${message.from}]]></FromUserName>\n` +
      `<CreateTime>${Math.floor(Date.now() / 1000)}</CreateTime>\n<MsgType><![CDATA[text]]></MsgType>\n<Content><![CDATA[${message.content}]]></Content>\n` +
      `<MsgId>${message.msgId}</MsgId>\n<AgentID>${wecomApp.agentId}</AgentID>\n</xml>`;
    return this.postInner(url, inner, options);
  }

  /** POSTs any inner XML, encrypted and signed. */
  async postInner(url: string, inner: string, options: { timestamp?: number; forge?: boolean } = {}): Promise<{ status: number; body: string }> {
    const encrypted = encryptMessage({ encodingAesKey: wecomApp.encodingAesKey, message: inner, receiveId: wecomApp.corpId });
    const body = `<xml><ToUserName><![CDATA[${wecomApp.corpId}]]></ToUserName><AgentID><![CDATA[${wecomApp.agentId}]]></AgentID><Encrypt><![CDATA[${encrypted}]]></Encrypt></xml>`;
    const response = await fetch(`${url}?${this.signedQuery(encrypted, options)}`, { method: "POST", headers: { "content-type": "text/xml" }, body });
    return { status: response.status, body: await response.text() };
  }

  /** Whether an AI bot is subscribed now. */
  get botConnected(): boolean {
    return this.bot !== undefined;
  }
  /** Pushes an aibot_msg_callback; returns its req_id (the replies echo it). */
  pushBotMessage(message: { msgid: string; from: string; content: string; chattype?: "single" | "group"; chatid?: string }): string {
    const reqId = randomUUID();
    const body = { msgid: message.msgid, aibotid: wecomBot.botId, chattype: message.chattype ?? "single", ...(message.chatid ? { chatid: message.chatid } : {}), from: { userid: message.from }, msgtype: "text", text: { content: message.content } };
    this.sendToBot(JSON.stringify({ cmd: "aibot_msg_callback", headers: { req_id: reqId }, body }));
    return reqId;
  }
  /** Any text frame to the bot (fuzzing). */
  sendToBot(data: string | Buffer): void {
    if (!this.bot) throw new Error("no AI bot is connected");
    this.bot.send(data);
  }
  /** Drops the bot's connection without a close frame (a network failure). */
  dropBot(): void {
    this.bot?.terminate();
    this.bot = undefined;
  }

  async close(): Promise<void> {
    for (const client of this.wss.clients) client.terminate();
    await new Promise<void>((resolve) => this.wss.close(() => resolve()));
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private acceptBot(socket: WebSocket): void {
    socket.on("message", (data) => {
      let frame: { cmd?: string; headers?: { req_id?: string }; body?: Record<string, unknown> };
      try {
        frame = JSON.parse(String(data));
      } catch {
        return socket.close(1003);
      }
      const reqId = frame.headers?.req_id ?? "";
      const ack = (errcode: number, errmsg = "ok") => socket.send(JSON.stringify({ headers: { req_id: reqId }, errcode, errmsg }));
      if (frame.cmd === "aibot_subscribe") {
        const good = frame.body?.bot_id === wecomBot.botId && frame.body?.secret === wecomBot.secret;
        this.subscriptions.push(good ? "ok" : "refused");
        if (good) this.bot = socket;
        return ack(good ? 0 : 40058, good ? "ok" : "invalid bot_id or secret");
      }
      if (socket !== this.bot) return ack(40058, "not subscribed");
      if (frame.cmd === "ping") return ack(0);
      if (frame.cmd === "aibot_respond_msg") {
        const stream = (frame.body?.stream ?? {}) as { id?: string; finish?: boolean; content?: string };
        const bytes = Buffer.byteLength(stream.content ?? "");
        if (frame.body?.msgtype !== "stream" || typeof stream.id !== "string" || bytes > 20_480) return ack(40008, "invalid stream reply");
        this.streams.push({ reqId, id: stream.id, finish: stream.finish === true, content: stream.content ?? "" });
        return ack(0);
      }
      ack(40008, "unknown cmd");
    });
    socket.on("close", () => {
      if (this.bot === socket) this.bot = undefined;
    });
  }

  private async serve(request: http.IncomingMessage, response: http.ServerResponse): Promise<void> {
    const url = new URL(request.url ?? "/", this.apiBase);
    const chunks: Buffer[] = [];
    for await (const chunk of request) chunks.push(chunk as Buffer);
    const answer = (body: unknown): void => void response.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(body));
    if (url.pathname === "/cgi-bin/gettoken") {
      this.tokenCalls += 1;
      if (url.searchParams.get("corpid") !== wecomApp.corpId || url.searchParams.get("corpsecret") !== wecomApp.corpSecret) return answer({ errcode: 40013, errmsg: "invalid corpid" });
      this.token = `token-${this.tokenCalls}-${randomUUID()}`;
      return answer({ errcode: 0, errmsg: "ok", access_token: this.token, expires_in: 7200 });
    }
    if (url.pathname === "/cgi-bin/message/send" && request.method === "POST") {
      if (url.searchParams.get("access_token") !== this.token || this.token === "") return answer({ errcode: 42001, errmsg: "access_token expired" });
      const failure = this.failNext.shift();
      if (failure !== undefined) return answer({ errcode: failure, errmsg: "simulated failure" });
      const body = JSON.parse(Buffer.concat(chunks).toString("utf8")) as { touser: string; msgtype: string; agentid: number } & Record<string, { content: string }>;
      this.sent.push({ touser: body.touser, msgtype: body.msgtype, agentid: body.agentid, content: body[body.msgtype]?.content ?? "" });
      return answer({ errcode: 0, errmsg: "ok", msgid: randomUUID() });
    }
    response.writeHead(404).end();
  }
}
