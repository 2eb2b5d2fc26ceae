// Fuzzes the MQTT gateway of a real node through a real Mosquitto: generated payloads on the request topic.
import fs from "node:fs";
import path from "node:path";
import fc from "fast-check";
import mqtt, { type MqttClient } from "mqtt";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { parseTransportFrame } from "../../src/gateways/frames.js";
import { SmMqttRequest } from "../../src/gateways/sm-mqtt-envelope.js";
import { killAll, removeTempDirs } from "../helpers/cli-process.js";
import { expectWebsocketServed, startHostileNode, type HostileNode } from "../helpers/hostile-node.js";
import { MosquittoBroker } from "../helpers/mosquitto.js";
import { badUtf8Arbitrary, frameTextArbitrary, makeTokens, serverFrameProblem, tokenArbitrary, type TokenSet } from "./hostile-inputs.js";

const maxPayload = 16 * 1024;
const prefix = "hostile";
/** The fuzzing client publishes as this subject, on the request topic named after it. */
const subject = "fuzzer";

let broker: MosquittoBroker;
let node: HostileNode;
let tokens: TokenSet;
let client: MqttClient;
const sealedPrefix = "hostile-sm";
let sealedServerKey: string;
/** Every payload on the sealed gateway's reply topics. */
const sealedReplies: Buffer[] = [];
const received: { topic: string; frame: Record<string, unknown> }[] = [];
const problems: string[] = [];

async function ensureNode(): Promise<void> {
  if (node && (await node.stillAliveAfter(300))) return;
  broker ??= await MosquittoBroker.start();
  const gateway = { type: "mqtt", broker: broker.url, client_id: `hostile-node-${Date.now()}`, topic_prefix: prefix, max_payload: maxPayload, auth: { type: "jwt", secret: "${secret}" } };
  // The same gateway with sealed messages (encryption: {type: sm}) on its own prefix; its key is generated into data_dir.
  const sealedGateway = { ...gateway, client_id: `hostile-sealed-${Date.now()}`, topic_prefix: sealedPrefix, encryption: { type: "sm" } };
  node = await startHostileNode({ gateways: [gateway, sealedGateway], agent: { max_tokens: 16 } });
  sealedServerKey = fs.readFileSync(path.join(node.directory, "data", "sm2-link-key.pub.hex"), "utf8").trim();
  tokens = await makeTokens(node.secret, subject);
  // The gateway connects to the broker once the model is ready: wait until it answers a ping.
  await client?.endAsync(true);
  client = await mqtt.connectAsync(broker.url, { clientId: `fuzz-client-${Date.now()}`, protocolVersion: 5, reconnectPeriod: 200 });
  client.on("message", (topic, payload) => {
    if (topic.startsWith(`${sealedPrefix}/`)) return void sealedReplies.push(Buffer.from(payload));
    try {
      const frame = JSON.parse(payload.toString("utf8")) as Record<string, unknown>;
      received.push({ topic, frame });
      const problem = serverFrameProblem(frame);
      if (problem) problems.push(`${topic}: ${problem}`);
    } catch {
      problems.push(`${topic}: a reply that is not JSON: ${payload.toString("latin1").slice(0, 200)}`);
    }
  });
  // Every reply topic under the prefix, whatever scheme binds replies to the subject.
  await client.subscribeAsync(`${prefix}/res/#`, { qos: 1 });
  await client.subscribeAsync(`${sealedPrefix}/res/#`, { qos: 1 });
  const deadline = Date.now() + 30_000;
  while (!(await pingAnswered(2_000))) {
    if (Date.now() > deadline) throw new Error(`the node's MQTT gateway never answered a ping\n${node.cli.describe()}`);
  }
}

/** Publishes a ping (with a valid token) and resolves whether a pong came back. */
async function pingAnswered(timeoutMs: number): Promise<boolean> {
  const before = received.filter(({ frame }) => frame.type === "pong").length;
  await client.publishAsync(`${prefix}/req/${subject}`, JSON.stringify({ type: "ping", token: tokens.valid }), { qos: 1 });
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (received.filter(({ frame }) => frame.type === "pong").length > before) return true;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  return false;
}

beforeAll(ensureNode, 120_000);
beforeEach(ensureNode, 120_000);
afterAll(async () => {
  await client?.endAsync(true);
  await killAll();
  await broker?.close();
  removeTempDirs();
});

/** Payloads: protocol frames with a token field (valid or not), bare frames, bad JSON, bad UTF-8, oversized. */
function payloadArbitrary(): fc.Arbitrary<Buffer> {
  const withToken = fc
    .tuple(frameTextArbitrary("m", tokens), tokenArbitrary(tokens), fc.option(fc.boolean()))
    .map(([text, token, stream]) => {
      try {
        const value = JSON.parse(text) as unknown;
        if (typeof value !== "object" || value === null || Array.isArray(value)) return text;
        return JSON.stringify({ ...value, token, ...(stream === null ? {} : { stream }) });
      } catch {
        return text;
      }
    });
  return fc.oneof(
    { weight: 6, arbitrary: withToken.map((text) => Buffer.from(text)) },
    { weight: 2, arbitrary: frameTextArbitrary("m", tokens).map((text) => Buffer.from(text)) },
    {
      weight: 1,
      arbitrary: fc
        .tuple(badUtf8Arbitrary, fc.integer({ min: 0, max: 1_000_000 }))
        .map(([bytes, n]) => Buffer.concat([Buffer.from(`{"type":"chat","id":"u8-${n}","token":"${tokens.valid}","message":"`), bytes, Buffer.from('"}')])),
    },
    { weight: 1, arbitrary: fc.integer({ min: maxPayload + 1, max: 3 * maxPayload }).map((size) => Buffer.alloc(size, 0x7b)) },
    { weight: 1, arbitrary: fc.uint8Array({ maxLength: 100 }).map((bytes) => Buffer.from(bytes)) },
  );
}

/** The id of a payload that carries the valid token and parses as a chat: its answer must end with finish or error. */
function answerableChatId(payload: Buffer): string | undefined {
  if (payload.length > maxPayload) return undefined;
  const parsed = parseTransportFrame(payload.toString("utf8"));
  return "frame" in parsed && parsed.frame.type === "chat" && parsed.token === tokens.valid ? parsed.frame.id : undefined;
}

describe("hostile MQTT clients", () => {
  it("answers generated payloads with coded errors or valid answers, and stays up", async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(payloadArbitrary(), { minLength: 1, maxLength: 4 }), async (payloads) => {
        const start = received.length;
        for (const payload of payloads) await client.publishAsync(`${prefix}/req/${subject}`, payload, { qos: 1 });
        // Requests are taken one at a time, in order: once the closing ping is answered, every refusal has been published.
        const ponged = await pingAnswered(15_000);
        const context = `sent ${JSON.stringify(payloads.map((payload) => payload.subarray(0, 150).toString("latin1")))}; got ${JSON.stringify(received.slice(start).map(({ frame }) => frame)).slice(0, 600)}`;
        expect(await node.stillAliveAfter(ponged ? 0 : 300), `the node exited: ${context}\n${node.cli.describe().slice(-3000)}`).toBe(true);
        expect(ponged, `no pong: ${context}`).toBe(true);
        // A chat whose id this client already used may be ignored as a duplicate (it was answered before).
        const usedBefore = new Set(received.slice(0, start).map(({ frame }) => frame.id));
        const chats = new Set(payloads.map(answerableChatId).filter((id): id is string => id !== undefined && !usedBefore.has(id)));
        const deadline = Date.now() + 15_000;
        const ended = () => new Set(received.slice(start).filter(({ frame }) => frame.type === "finish" || frame.type === "error").map(({ frame }) => frame.id));
        while ([...chats].some((id) => !ended().has(id)) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10));
        const missing = [...chats].filter((id) => !ended().has(id));
        expect(missing, `chats without a finish or error: ${context}`).toEqual([]);
        expect(problems, context).toEqual([]);
      }),
      { numRuns: 80, endOnFailure: true },
    );
    await expectWebsocketServed(node);
  });
});

/** Sealed payloads: valid envelopes of generated frames, and envelopes with a bit flipped, cut short, grown, or a foreign header. */
function sealedPayloadArbitrary(): fc.Arbitrary<{ payload: Buffer; request?: SmMqttRequest }> {
  const sealedFrame = fc.tuple(frameTextArbitrary("s", tokens), tokenArbitrary(tokens)).map(([text, token]) => {
    const request = new SmMqttRequest(sealedServerKey);
    let body = text;
    try {
      const value = JSON.parse(text) as unknown;
      if (typeof value === "object" && value !== null && !Array.isArray(value)) body = JSON.stringify({ ...value, token });
    } catch {
      // Sealed as generated: the plaintext itself is malformed.
    }
    return { request, payload: request.seal(body) };
  });
  const mutated = fc.tuple(sealedFrame, fc.nat(), fc.integer({ min: 0, max: 7 }), fc.constantFrom("flip", "cut", "grow", "header")).map(([{ payload }, at, bit, how]) => {
    const index = at % payload.length;
    if (how === "cut") return { payload: payload.subarray(0, index) };
    if (how === "grow") return { payload: Buffer.concat([payload, Buffer.alloc(1 + (at % 64), at & 0xff)]) };
    const changed = Buffer.from(payload);
    if (how === "header") changed.fill(at & 0xff, 1 + (index % 97), 98);
    else changed[index] = (changed[index] as number) ^ (1 << bit);
    return { payload: changed };
  });
  return fc.oneof(
    { weight: 3, arbitrary: sealedFrame },
    { weight: 5, arbitrary: mutated },
    { weight: 1, arbitrary: fc.uint8Array({ minLength: 98, maxLength: 300 }).map((bytes) => ({ payload: Buffer.concat([Buffer.from([1]), Buffer.from(bytes)]) })) },
  );
}

describe("hostile sealed MQTT messages (encryption: {type: sm})", () => {
  it("refuses malformed envelopes with a plain secure_link_failed error, answers valid ones sealed, and stays up", async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(sealedPayloadArbitrary(), { minLength: 1, maxLength: 4 }), async (messages) => {
        const start = sealedReplies.length;
        for (const { payload } of messages) await client.publishAsync(`${sealedPrefix}/req/${subject}`, payload, { qos: 1 });
        // A sealed ping last: once its pong is in, every refusal before it has been published (one message at a time).
        const ping = new SmMqttRequest(sealedServerKey);
        await client.publishAsync(`${sealedPrefix}/req/${subject}`, ping.seal(JSON.stringify({ type: "ping", token: tokens.valid })), { qos: 1 });
        const deadline = Date.now() + 15_000;
        while (!sealedReplies.slice(start).some((payload) => ping.matches(payload)) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10));
        const context = `sent ${JSON.stringify(messages.map(({ payload }) => payload.subarray(0, 120).toString("hex")))}`;
        expect(await node.stillAliveAfter(0), `the node exited: ${context}\n${node.cli.describe().slice(-3000)}`).toBe(true);
        const pong = sealedReplies.slice(start).find((payload) => ping.matches(payload));
        expect(pong && JSON.parse(ping.open(pong) as string), `no sealed pong: ${context}`).toEqual({ type: "pong" });
        const requests = messages.flatMap(({ request }) => (request ? [request] : []));
        for (const payload of sealedReplies.slice(start)) {
          if (ping.matches(payload)) continue;
          if (payload[0] === 0x7b) {
            // Plain replies are only refusals of what could not be opened.
            const frame = JSON.parse(payload.toString("utf8")) as Record<string, unknown>;
            expect(frame, context).toMatchObject({ type: "error", id: null });
            expect(["secure_link_failed", "payload_too_large"], context).toContain(frame.code);
            expect(serverFrameProblem(frame), context).toBeUndefined();
            continue;
          }
          // Anything else opens under one of the valid requests sent (late replies of earlier runs are skipped).
          const owner = requests.find((request) => request.matches(payload));
          if (!owner) continue;
          const text = owner.open(payload);
          if (text !== undefined) expect(serverFrameProblem(JSON.parse(text) as Record<string, unknown>), context).toBeUndefined();
        }
      }),
      { numRuns: 40, endOnFailure: true },
    );
  });
});

