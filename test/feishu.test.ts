// Feishu end to end against the local simulator and the real test model: webhook (encrypted/signed and token) and long connection.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { feishuApp, FeishuSimulator, encryptDelivery, messageEvent, signedDelivery } from "./helpers/feishu-simulator.js";
import { freePort } from "./helpers/free-port.js";
import { startTestNode, type TestNode } from "./helpers/test-node.js";
import { until } from "./helpers/wecom-simulator.js";

let node: TestNode;
let simulator: FeishuSimulator;
let ownPort = 0;
let unique = 0;
const nextId = (prefix: string) => `om_${prefix}_${(unique += 1)}`;

beforeAll(async () => {
  simulator = await FeishuSimulator.start();
  const app = { app_id: feishuApp.appId, app_secret: feishuApp.appSecret, api_base: simulator.apiBase };
  ownPort = await freePort();
  node = await startTestNode({
    agent: { max_tokens: 64 },
    extraGateways: [
      { type: "custom", protocol: "feishu", mode: "webhook", ...app, encrypt_key: feishuApp.encryptKey, verification_token: feishuApp.verificationToken, stream_interval: 0.01 },
      { type: "custom", protocol: "feishu", mode: "webhook", ...app, verification_token: feishuApp.verificationToken, callback_path: "/feishu/plain", reply_as: "text" },
      { type: "custom", protocol: "feishu", mode: "long_connection", ...app },
      { type: "custom", protocol: "feishu", mode: "webhook", ...app, verification_token: feishuApp.verificationToken, port: ownPort, callback_path: "/hook" },
    ],
  });
}, 60_000);

afterAll(async () => {
  await node?.close();
  await simulator?.close();
});

/**
 * The model's answer to `text` through the node's OpenAI API: what the IM user must get (temperature 0). The chat is the
 * IM session, so its earlier exchanges (`history`: [question, answer] pairs) are part of the prompt.
 */
async function modelAnswer(text: string, history: [string, string][] = []): Promise<string> {
  const earlier = history.flatMap(([question, answer]) => [{ role: "user", content: question }, { role: "assistant", content: answer }]);
  const response = await fetch(`${node.httpUrl}/v1/chat/completions`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${await node.token()}` },
    body: JSON.stringify({ messages: [...earlier, { role: "user", content: text }] }),
  });
  const body = (await response.json()) as { choices: { message: { content: string } }[] };
  return body.choices[0]!.message.content;
}

const post = (path: string, body: string, headers: Record<string, string> = { "content-type": "application/json" }) =>
  fetch(`${node.httpUrl}${path}`, { method: "POST", headers, body });
const deliver = (event: unknown, options: Parameters<typeof signedDelivery>[1] = {}) => {
  const delivery = signedDelivery(event, options);
  return post("/feishu/events", delivery.body, delivery.headers);
};
const answered = (messageId: string, expected: string) => until(() => simulator.answerTo(messageId) === expected, `the answer to ${messageId}`);

describe("feishu webhook", () => {
  it("answers url_verification with the challenge, plain (token checked) and encrypted", async () => {
    const plain = await post("/feishu/plain", JSON.stringify({ challenge: "c-plain", token: feishuApp.verificationToken, type: "url_verification" }));
    expect(await plain.json()).toEqual({ challenge: "c-plain" });
    const wrong = await post("/feishu/plain", JSON.stringify({ challenge: "c-plain", token: "guess", type: "url_verification" }));
    expect(wrong.status).toBe(401);
    const encrypted = { encrypt: encryptDelivery({ challenge: "c-enc", token: feishuApp.verificationToken, type: "url_verification" }, feishuApp.encryptKey) };
    expect(await (await post("/feishu/events", JSON.stringify(encrypted))).json()).toEqual({ challenge: "c-enc" });
    // A webhook with a port of its own listens there.
    const own = await fetch(`http://127.0.0.1:${ownPort}/hook`, { method: "POST", body: JSON.stringify({ challenge: "c-own", token: feishuApp.verificationToken, type: "url_verification" }) });
    expect(await own.json()).toEqual({ challenge: "c-own" });
  });

  it("answers a signed, encrypted message with the model's answer in a card it updates", async () => {
    const messageId = nextId("web");
    const expected = await modelAnswer("Once upon a time");
    const response = await deliver(messageEvent({ messageId, text: "Once upon a time", chatId: "oc_web" }));
    expect(response.status).toBe(200);
    await answered(messageId, expected);
    const [card] = simulator.repliesTo(messageId);
    expect(card?.msgType).toBe("interactive");
    expect(simulator.repliesTo(messageId)).toHaveLength(1);
    // One card, streamed: the first reply held the answer so far, later versions came as updates of that card.
    const versions = simulator.messages.filter((message) => message.botMessageId === card?.botMessageId);
    expect(versions.length).toBeGreaterThan(1);
    expect(versions.slice(1).every((version) => version.kind === "update")).toBe(true);
    expect(expected.startsWith(versions[0]!.text)).toBe(true);
  });

  it("refuses a forged signature and a stale timestamp; answers a replayed delivery once", async () => {
    const forged = nextId("forged");
    expect((await deliver(messageEvent({ messageId: forged, text: "Tom", chatId: "oc_bad" }), { signWith: "not the key" })).status).toBe(401);
    const stale = nextId("stale");
    const oneHourAgo = Math.floor(Date.now() / 1000) - 3600;
    expect((await deliver(messageEvent({ messageId: stale, text: "Tom", chatId: "oc_bad" }), { timestamp: oneHourAgo })).status).toBe(401);
    const replayed = nextId("replayed");
    const delivery = signedDelivery(messageEvent({ messageId: replayed, text: "The dog", chatId: "oc_bad" }));
    expect((await post("/feishu/events", delivery.body, delivery.headers)).status).toBe(200);
    expect((await post("/feishu/events", delivery.body, delivery.headers)).status).toBe(200);
    const dog = await modelAnswer("The dog");
    await answered(replayed, dog);
    // A later message in the same chat is delivered after anything still queued for the earlier ones (one queue per chat).
    const later = nextId("later");
    await deliver(messageEvent({ messageId: later, text: "The cat", chatId: "oc_bad" }));
    await answered(later, await modelAnswer("The cat", [["The dog", dog]]));
    expect(simulator.repliesTo(replayed)).toHaveLength(1);
    expect(simulator.repliesTo(forged)).toHaveLength(0);
    expect(simulator.repliesTo(stale)).toHaveLength(0);
  });

  it("recovers from a token that expired mid-run, and replies as text on a token-checked webhook", async () => {
    const calls = simulator.tokenCalls;
    simulator.expireTokens();
    const messageId = nextId("plain");
    const event = messageEvent({ messageId, text: "Lily", chatId: "oc_plain" });
    expect((await post("/feishu/plain", JSON.stringify({ ...event, header: { ...event.header, token: "guess" } }))).status).toBe(401);
    expect((await post("/feishu/plain", JSON.stringify(event))).status).toBe(200);
    await answered(messageId, await modelAnswer("Lily"));
    expect(simulator.repliesTo(messageId)[0]?.msgType).toBe("text");
    expect(simulator.tokenCalls).toBeGreaterThan(calls);
  });
});

describe("feishu long connection (the SDK's WSClient)", () => {
  it("ACKs a pushed event and answers; after a drop it reconnects, and an event pushed twice is answered once", async () => {
    await until(() => simulator.connections >= 1, "the long connection");
    const first = nextId("ws");
    const frame = simulator.push(messageEvent({ messageId: first, text: "Sam", chatId: "oc_ws" }));
    const sam = await modelAnswer("Sam");
    await answered(first, sam);
    expect(simulator.acks.get(frame)?.code).toBe(200);

    simulator.drop();
    await until(() => simulator.connections >= 2, "the reconnection");
    await until(() => simulator.open === 1, "one open long connection");
    const second = nextId("ws");
    const event = messageEvent({ messageId: second, text: "Ben", chatId: "oc_ws" });
    const frames = [simulator.push(event), simulator.push(event)];
    const ben = await modelAnswer("Ben", [["Sam", sam]]);
    await answered(second, ben);
    await until(() => frames.every((id) => simulator.acks.get(id)?.code === 200), "both ACKs");
    const third = nextId("ws");
    simulator.push(messageEvent({ messageId: third, text: "Mia", chatId: "oc_ws" }));
    await answered(third, await modelAnswer("Mia", [["Sam", sam], ["Ben", ben]]));
    expect(simulator.repliesTo(second)).toHaveLength(1);
    // Three real answers and the SDK's reconnect: under a loaded CI box this takes longer than the default 30 s.
  }, 90_000);
});
