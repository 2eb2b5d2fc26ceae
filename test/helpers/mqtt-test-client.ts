// A small promise-based MQTT 5 client for tests of the MQTT gateway: publish request frames, collect reply frames (from its own reply topics).
import mqtt, { type IClientOptions, type IPublishPacket, type MqttClient } from "mqtt";
import type { Frame } from "./ws-test-client.js";

export interface ReceivedFrame {
  topic: string;
  frame: Frame;
  packet: IPublishPacket;
}

export interface MqttChatResult {
  deltas: string[];
  end: Frame;
}

export class MqttTestClient {
  readonly received: ReceivedFrame[] = [];
  private listeners: ((received: ReceivedFrame) => void)[] = [];
  private readonly subscribed = new Set<string>();

  private constructor(
    readonly client: MqttClient,
    /** The request topic's client segment: the broker user name, or the MQTT client id without one. */
    readonly user: string,
    readonly prefix: string,
  ) {
    client.on("message", (topic, payload, packet) => {
      const received = { topic, frame: JSON.parse(payload.toString("utf8")) as Frame, packet };
      this.received.push(received);
      for (const listener of [...this.listeners]) listener(received);
    });
  }

  /**
   * Connects (MQTT 5 unless told otherwise) and subscribes to its own reply topic, <prefix>/res/<user> (the user is
   * `extra.username`, else the client id): where replies go without auth, and, with a user named like the token's
   * subject, with auth.
   */
  static async connect(url: string, clientId: string, options: { prefix?: string; extra?: IClientOptions } = {}): Promise<MqttTestClient> {
    const prefix = options.prefix ?? "clawbot";
    const client = await mqtt.connectAsync(url, { clientId, protocolVersion: 5, reconnectPeriod: 200, connectTimeout: 5_000, ...options.extra });
    const tester = new MqttTestClient(client, options.extra?.username ?? clientId, prefix);
    await tester.subscribe(`${prefix}/res/${tester.user}`);
    return tester;
  }

  /** Subscribes at QoS 1; returns the granted QoS or reason code (128 and above: refused). */
  async subscribe(topic: string): Promise<number> {
    const granted = await this.client.subscribeAsync(topic, { qos: 1 });
    this.subscribed.add(topic);
    return granted[0]?.qos ?? 128;
  }

  /**
   * Publishes a request frame (an object, or raw text) on <prefix>/req/<user>. A frame with a token is answered
   * on the token subject's reply topic: the client subscribes to it first.
   */
  async publish(frame: unknown, properties: IPublishPacket["properties"] = {}, qos: 0 | 1 | 2 = 1): Promise<void> {
    await this.publishTo(`${this.prefix}/req/${this.user}`, frame, properties, qos);
  }

  /** Publishes a request frame on any topic (to try topics that are not its own). */
  async publishTo(topic: string, frame: unknown, properties: IPublishPacket["properties"] = {}, qos: 0 | 1 | 2 = 1): Promise<void> {
    const subject = typeof frame === "object" && frame !== null ? tokenSubject((frame as { token?: unknown }).token) : undefined;
    const replies = subject !== undefined ? `${this.prefix}/res/${subject}` : undefined;
    if (replies && !this.subscribed.has(replies)) await this.subscribe(replies);
    const payload = typeof frame === "string" ? frame : JSON.stringify(frame);
    await this.client.publishAsync(topic, payload, { qos, properties });
  }

  /** The next received frame (already received or future) matching the predicate. */
  next(predicate: (received: ReceivedFrame) => boolean, timeoutMs = 30_000): Promise<ReceivedFrame> {
    const already = this.received.find(predicate);
    if (already) return Promise.resolve(already);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error("timed out waiting for an MQTT reply")), timeoutMs);
      const listener = (received: ReceivedFrame) => {
        if (!predicate(received)) return;
        clearTimeout(timer);
        this.listeners = this.listeners.filter((other) => other !== listener);
        resolve(received);
      };
      this.listeners.push(listener);
    });
  }

  /** One request's deltas up to its finish or error frame. */
  async result(id: string, timeoutMs?: number): Promise<MqttChatResult> {
    const end = await this.next(({ frame }) => frame.id === id && (frame.type === "finish" || frame.type === "error"), timeoutMs);
    const deltas = this.framesOf(id).filter((frame) => frame.type === "text-delta").map((frame) => String(frame.text));
    return { deltas, end: end.frame };
  }

  async chat(id: string, message: string, extra: Record<string, unknown> = {}): Promise<MqttChatResult> {
    const pending = this.result(id);
    await this.publish({ type: "chat", id, message, ...extra });
    return pending;
  }

  framesOf(id: string): Frame[] {
    return this.received.filter(({ frame }) => frame.id === id).map(({ frame }) => frame);
  }

  async close(): Promise<void> {
    await this.client.endAsync(true);
  }
}

/** The `sub` of a JWT (not verified: only to know where its replies go). */
function tokenSubject(token: unknown): string | undefined {
  if (typeof token !== "string") return undefined;
  try {
    const payload = JSON.parse(Buffer.from(token.split(".")[1] ?? "", "base64url").toString("utf8")) as { sub?: unknown };
    return typeof payload.sub === "string" ? payload.sub : undefined;
  } catch {
    return undefined;
  }
}
