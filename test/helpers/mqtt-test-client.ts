// A small promise-based MQTT 5 client for tests of the MQTT gateway: publish request frames, collect reply frames.
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

  private constructor(
    readonly client: MqttClient,
    readonly clientId: string,
    readonly prefix: string,
  ) {
    client.on("message", (topic, payload, packet) => {
      const received = { topic, frame: JSON.parse(payload.toString("utf8")) as Frame, packet };
      this.received.push(received);
      for (const listener of [...this.listeners]) listener(received);
    });
  }

  /** Connects (MQTT 5 unless told otherwise) and subscribes to this client's response topic. */
  static async connect(url: string, clientId: string, options: { prefix?: string; extra?: IClientOptions } = {}): Promise<MqttTestClient> {
    const prefix = options.prefix ?? "clawbot";
    const client = await mqtt.connectAsync(url, { clientId, protocolVersion: 5, reconnectPeriod: 200, connectTimeout: 5_000, ...options.extra });
    const tester = new MqttTestClient(client, clientId, prefix);
    await tester.subscribe(`${prefix}/res/${clientId}`);
    return tester;
  }

  async subscribe(topic: string): Promise<void> {
    await this.client.subscribeAsync(topic, { qos: 1 });
  }

  /** Publishes a request frame (an object, or raw text) on <prefix>/req/<clientId>. */
  async publish(frame: unknown, properties: IPublishPacket["properties"] = {}, qos: 0 | 1 | 2 = 1): Promise<void> {
    const payload = typeof frame === "string" ? frame : JSON.stringify(frame);
    await this.client.publishAsync(`${this.prefix}/req/${this.clientId}`, payload, { qos, properties });
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
