// One chat request over each client-facing protocol, with the same outcome shape, so a test can run over all of them.
import OpenAI from "openai";
import type { TestNode } from "./test-node.js";
import { randomUUID } from "node:crypto";
import { findMosquitto } from "./mosquitto.js";
import { MqttTestClient } from "./mqtt-test-client.js";
import { WsTestClient } from "./ws-test-client.js";

export interface ChatOutcome {
  /** The answer's text deltas, as the client received them. */
  deltas: string[];
  /** The final answer (the finish frame's text, or the deltas joined where the protocol has no final text). */
  text?: string;
  error?: { code: string; message: string };
}

export interface ChatRequest {
  message: string;
  maxTokens?: number;
  /** Store the exchange in this session (protocols with sessions only). */
  session?: string;
}

/** A protocol a client can chat over; add one here and every test that runs over `chatTransports` covers it. */
export interface ChatTransport {
  name: string;
  /** Whether it keeps server-side sessions (the `session` field). */
  sessions: boolean;
  chat(node: TestNode, request: ChatRequest): Promise<ChatOutcome>;
}

let requestCounter = 0;

export const websocketTransport: ChatTransport = {
  name: "websocket",
  sessions: true,
  async chat(node, request) {
    const client = await WsTestClient.connect(node.wsUrl, { token: await node.token() });
    try {
      const id = `request-${(requestCounter += 1)}`;
      const { deltas, end } = await client.chat(id, request.message, request.maxTokens ? { max_tokens: request.maxTokens } : {}, request.session);
      if (end.type === "error") return { deltas, error: { code: String(end.code), message: String(end.message) } };
      return { deltas, text: String(end.text) };
    } finally {
      client.close();
    }
  },
};

/** The OpenAI-compatible API, streamed with SSE through the official client. */
export const httpTransport: ChatTransport = {
  name: "http",
  sessions: false,
  async chat(node, request) {
    const openai = new OpenAI({ baseURL: `${node.httpUrl}/v1`, apiKey: await node.token(), maxRetries: 0 });
    const deltas: string[] = [];
    try {
      const stream = await openai.chat.completions.create({
        model: node.daemon.engine.info.model,
        messages: [{ role: "user", content: request.message }],
        stream: true,
        ...(request.maxTokens ? { max_tokens: request.maxTokens } : {}),
      });
      for await (const chunk of stream) {
        const content = chunk.choices[0]?.delta.content;
        if (content) deltas.push(content);
      }
      return { deltas, text: deltas.join("") };
    } catch (error) {
      if (error instanceof OpenAI.APIError) return { deltas, error: { code: String(error.code), message: String((error.error as { message?: string } | undefined)?.message ?? error.message) } };
      throw error;
    }
  },
};

/** The MQTT gateway through a real broker: the node must be started with `mqttBroker`. */
export const mqttTransport: ChatTransport = {
  name: "mqtt",
  sessions: true,
  async chat(node, request) {
    if (!node.mqtt) throw new Error("this test node has no MQTT gateway: start it with mqttBroker");
    const client = await MqttTestClient.connect(node.mqtt.url, `tester-${randomUUID().slice(0, 8)}`, { prefix: node.mqtt.prefix });
    try {
      const id = `request-${(requestCounter += 1)}`;
      const { deltas, end } = await client.chat(id, request.message, {
        token: await node.token(),
        ...(request.maxTokens ? { params: { max_tokens: request.maxTokens } } : {}),
        ...(request.session ? { session: request.session } : {}),
      });
      if (end.type === "error") return { deltas, error: { code: String(end.code), message: String(end.message) } };
      return { deltas, text: String(end.text) };
    } finally {
      await client.close();
    }
  },
};

/** MQTT joins when Mosquitto is installed (always in CI, where its absence must fail the tests). */
export const mqttAvailable = findMosquitto() !== undefined || Boolean(process.env.CI);

export const chatTransports: ChatTransport[] = [websocketTransport, httpTransport, ...(mqttAvailable ? [mqttTransport] : [])];
