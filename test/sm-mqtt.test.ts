// Sealed MQTT messages (`encryption: {type: sm}`) end to end through a real Mosquitto: chat, refusals, replay, nothing in clear, an independent sm-crypto client.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import mqtt, { type MqttClient } from "mqtt";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { configSchema } from "../src/config/schema.js";
import { createDaemon, type Daemon } from "../src/daemon/daemon.js";
import { MqttGateway } from "../src/gateways/mqtt/mqtt-gateway.js";
import { SmMqttRequest } from "../src/gateways/sm-mqtt-envelope.js";
import { silentLogger } from "../src/logging/logger.js";
import { generateSm2KeyPair } from "../src/security/gm/gm-crypto.js";
import { issueToken } from "../src/security/jwt-issuer.js";
import { findMosquitto, missingMosquittoMessage, MosquittoBroker } from "./helpers/mosquitto.js";
import { bytes, gcm, kdf, sharedX, sm2, sm3Bytes } from "./helpers/independent-sm.js";
import { testSecret } from "./helpers/test-node.js";

const skip = !findMosquitto() && !process.env.CI;
if (skip) console.warn(`Skipping the sealed MQTT tests: ${missingMosquittoMessage}`);

const prefix = "sealed";
const requestTopic = `${prefix}/req/alice`;
const replyTopic = `${prefix}/res/alice`;

type Frame = Record<string, unknown>;

async function until(condition: () => boolean, what: string, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

describe.skipIf(skip)("sealed MQTT messages (encryption: {type: sm})", () => {
  let broker: MosquittoBroker;
  let daemon: Daemon;
  let gateway: MqttGateway;
  let serverKey: string;
  let client: MqttClient;
  let sniffer: MqttClient;
  /** Every payload the broker carried, seen by a raw client subscribed to #. */
  const wire: Buffer[] = [];
  const replies: Buffer[] = [];
  const token = (subject = "alice") => issueToken({ secret: testSecret, subject, roles: ["user"], ttl: "1h" });

  beforeAll(async () => {
    broker = await MosquittoBroker.start();
    sniffer = await mqtt.connectAsync(broker.url, { clientId: "sniffer", protocolVersion: 5 });
    sniffer.on("message", (_topic, payload) => wire.push(Buffer.from(payload)));
    await sniffer.subscribeAsync("#", { qos: 1 });
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "clawbot-sm-mqtt-"));
    const auth = { type: "jwt", secret: testSecret };
    const config = configSchema.parse({
      agent: { engine: "echo", data_dir: dataDir },
      gateways: [{ type: "mqtt", broker: broker.url, client_id: "sealed-node", topic_prefix: prefix, auth, encryption: { type: "sm" } }],
      metrics: { port: 0 },
      shutdown_grace: 2,
    });
    daemon = await createDaemon({ config, baseDir: dataDir, logger: silentLogger });
    gateway = daemon.gateways.find((candidate): candidate is MqttGateway => candidate instanceof MqttGateway) as MqttGateway;
    serverKey = gateway.linkPublicKey as string;
    expect(fs.readFileSync(path.join(dataDir, "sm2-link-key.pub.hex"), "utf8").trim()).toBe(serverKey);
    await until(() => gateway.status().connected, "the gateway to connect");
    client = await mqtt.connectAsync(broker.url, { clientId: "alice-client", protocolVersion: 5 });
    client.on("message", (_topic, payload) => replies.push(Buffer.from(payload)));
    await client.subscribeAsync(replyTopic, { qos: 1 });
  });
  afterAll(async () => {
    await client?.endAsync(true);
    await sniffer?.endAsync(true);
    await daemon?.close();
    await broker?.close();
  });

  /** Publishes a sealed frame and reads its sealed replies until a finish or error. */
  async function sealedExchange(frame: Frame, key = serverKey): Promise<{ frames: Frame[]; request: SmMqttRequest; sealed: Buffer }> {
    const request = new SmMqttRequest(key);
    const sealed = request.seal(JSON.stringify(frame));
    await client.publishAsync(requestTopic, sealed, { qos: 1 });
    const frames: Frame[] = [];
    let read = 0;
    await until(() => {
      for (; read < replies.length; read += 1) {
        const payload = replies[read] as Buffer;
        if (!request.matches(payload)) continue;
        const text = request.open(payload);
        if (text !== undefined) frames.push(JSON.parse(text) as Frame);
      }
      return frames.some((candidate) => candidate.type === "finish" || candidate.type === "error" || candidate.type === "pong");
    }, `the answer to ${String(frame.id ?? frame.type)}`);
    return { frames, request, sealed };
  }

  /** The next plain JSON frame on the reply topic after `from` replies. */
  async function plainReplyAfter(from: number): Promise<Frame> {
    let found: Frame | undefined;
    await until(() => {
      const payload = replies.slice(from).find((candidate) => candidate[0] === 0x7b);
      if (payload) found = JSON.parse(payload.toString("utf8")) as Frame;
      return found !== undefined;
    }, "a plain error reply");
    return found as Frame;
  }

  it("chats end to end: the request and every reply are sealed, and nothing readable crosses the broker", async () => {
    const secretText = "the password is swordfish 你好";
    const secretToken = await token();
    const { frames } = await sealedExchange({ type: "chat", id: "sealed-1", session: "s1", message: secretText, token: secretToken });
    const finish = frames.at(-1) as Frame;
    expect(finish).toMatchObject({ type: "finish", id: "sealed-1" });
    expect(String(finish.text)).toContain(secretText);
    expect(frames.filter((frame) => frame.type === "text-delta").map((frame) => frame.text).join("")).toBe(finish.text);
    expect(wire.length).toBeGreaterThanOrEqual(frames.length + 1);
    for (const needle of [secretText, "swordfish", secretToken, secretToken.split(".")[1] as string, '"type"', '"message"', '"token"', "text-delta", "finish"]) {
      expect(wire.some((payload) => payload.includes(Buffer.from(needle, "utf8")))).toBe(false);
    }
  });

  it("refuses a flipped bit, a request sealed to another server key and a plain JSON request with secure_link_failed on the reply topic", async () => {
    const frame = { type: "chat", id: "refused", message: "hi", token: await token() };
    for (const make of [
      () => {
        const sealed = new SmMqttRequest(serverKey).seal(JSON.stringify(frame));
        sealed[sealed.length - 20] = (sealed[sealed.length - 20] as number) ^ 0x04;
        return sealed;
      },
      () => new SmMqttRequest(generateSm2KeyPair().publicKey).seal(JSON.stringify(frame)),
      () => Buffer.from(JSON.stringify(frame)),
    ]) {
      const from = replies.length;
      await client.publishAsync(requestTopic, make(), { qos: 1 });
      expect(await plainReplyAfter(from)).toMatchObject({ type: "error", id: null, code: "secure_link_failed" });
    }
    // The gateway keeps serving.
    expect((await sealedExchange({ type: "ping", token: await token() })).frames).toEqual([{ type: "pong" }]);
  });

  it("answers a replayed sealed request message once: the replay is dropped as a duplicate", async () => {
    const { frames, sealed, request } = await sealedExchange({ type: "chat", id: "replayed", message: "only once", token: await token() });
    expect(frames.at(-1)).toMatchObject({ type: "finish" });
    const dropped = gateway.status().duplicatesDropped;
    await client.publishAsync(requestTopic, sealed, { qos: 1 });
    await until(() => gateway.status().duplicatesDropped === dropped + 1, "the replay to be dropped");
    // A later request is answered after it (one message at a time): had the replay been answered, its replies would be in first.
    await sealedExchange({ type: "ping", token: await token() });
    expect(replies.filter((payload) => request.matches(payload)).length).toBe(frames.length);
  });

  it("an independent client built on sm-crypto from docs/protocol.md alone completes one sealed request", async () => {
    const ephemeral = sm2.generateKeyPairHex();
    const random = Array.from({ length: 32 }, () => Math.floor(Math.random() * 256));
    const header = [1, ...bytes(ephemeral.publicKey), ...random];
    expect(header.length).toBe(98);
    const keys = kdf([...sharedX(ephemeral.privateKey, serverKey), ...sm3Bytes([...Buffer.from("clawbot-sm-mqtt/1", "ascii"), ...header, ...bytes(serverKey)])], 60);
    const frame = { type: "chat", id: "interop-1", message: "independent hello", token: await token(), stream: false };
    const request = gcm(keys.slice(0, 16), keys.slice(16, 28), [...Buffer.from(JSON.stringify(frame), "utf8")], header, false);
    const from = replies.length;
    await client.publishAsync(requestTopic, Buffer.from([...header, ...request.output, ...request.tag]), { qos: 1 });
    const tag = Buffer.from(random.slice(0, 16));
    let reply: Buffer | undefined;
    await until(() => (reply = replies.slice(from).find((payload) => payload[0] === 2 && payload.subarray(1, 17).equals(tag))) !== undefined, "the sealed reply");
    const payload = reply as Buffer;
    expect(payload.readUInt32BE(33)).toBe(0);
    const run = kdf([...keys.slice(28, 60), ...payload.subarray(17, 33)], 28);
    const replyHeader = [...payload.subarray(0, 37)];
    const body = [...payload.subarray(37, payload.length - 16)];
    const opened = gcm(run.slice(0, 16), run.slice(16, 28), body, replyHeader, true);
    expect(Buffer.from(opened.tag).equals(payload.subarray(payload.length - 16))).toBe(true);
    expect(JSON.parse(Buffer.from(opened.output).toString("utf8"))).toMatchObject({ type: "finish", id: "interop-1", text: expect.stringContaining("independent hello") });
  });
});
