// WeCom end to end against the local simulator and the real test model: the app callback (shared and own port) and the AI-bot long connection.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ignoredGatewayEvents } from "../src/gateways/gateway-events.js";
import { WecomCallbackGateway } from "../src/gateways/im/wecom/wecom-gateway.js";
import { freePort } from "./helpers/free-port.js";
import { startTestNode, type TestNode } from "./helpers/test-node.js";
import { until, wecomApp, wecomBot, WecomSimulator } from "./helpers/wecom-simulator.js";

let simulator: WecomSimulator;
let node: TestNode;
let callbackUrl: string;
let ownPortUrl: string;
const authFailures: string[] = [];

beforeAll(async () => {
  simulator = await WecomSimulator.start();
  const ownPort = await freePort();
  const app = { corp_id: wecomApp.corpId, corp_secret: wecomApp.corpSecret, agent_id: wecomApp.agentId, token: wecomApp.token, encoding_aes_key: wecomApp.encodingAesKey, api_base: simulator.apiBase };
  node = await startTestNode({
    agent: { max_tokens: 24 },
    extraGateways: [
      { type: "custom", protocol: "wecom", ...app },
      { type: "custom", protocol: "wecom", ...app, port: ownPort, callback_path: "/own" },
      { type: "custom", protocol: "wecom", mode: "aibot", bot_id: wecomBot.botId, secret: wecomBot.secret, ws_url: simulator.wsUrl, ping_interval: 1 },
    ],
    observe: { events: (gateway) => (gateway === "wecom" ? { ...ignoredGatewayEvents, authFailed: (code, reason) => authFailures.push(`${code}: ${reason}`) } : ignoredGatewayEvents) },
  });
  callbackUrl = `${node.httpUrl}/wecom/callback`;
  ownPortUrl = `http://127.0.0.1:${ownPort}/own`;
  expect(node.daemon.gateways.filter((gateway) => gateway instanceof WecomCallbackGateway)).toHaveLength(2);
}, 120_000);

afterAll(async () => {
  await node?.close();
  await simulator?.close();
});

const answersTo = (user: string) => simulator.sent.filter((message) => message.touser === user);

describe("WeCom self-built app callback", () => {
  it("answers URL verification with the decrypted echostr, on the http gateway's port and on its own", async () => {
    expect(await simulator.verifyUrl(callbackUrl, "echo-1616140317555161061")).toEqual({ status: 200, body: "echo-1616140317555161061" });
    expect(await simulator.verifyUrl(ownPortUrl, "echo-own-port")).toEqual({ status: 200, body: "echo-own-port" });
  });

  it("answers a member's message with a real model answer through message/send (markdown, ≤ 2048 bytes a piece)", async () => {
    expect(await simulator.postText(callbackUrl, { from: "alice", content: "Say hello in one short sentence.", msgId: "1001" })).toEqual({ status: 200, body: "" });
    const [answer] = await until(() => answersTo("alice").length > 0 && answersTo("alice"), "alice's answer");
    expect(answer!.msgtype).toBe("markdown");
    expect(answer!.agentid).toBe(wecomApp.agentId);
    expect(answer!.content.trim().length).toBeGreaterThan(0);
    for (const piece of answersTo("alice")) expect(Buffer.byteLength(piece.content)).toBeLessThanOrEqual(2048);
  }, 60_000);

  it("refuses a forged signature and a stale timestamp (401, counted as auth failures), and answers neither", async () => {
    const forged = await simulator.postText(callbackUrl, { from: "mallory", content: "hi", msgId: "2001" }, { forge: true });
    expect(forged.status).toBe(401);
    expect(JSON.parse(forged.body).error.code).toBe("unauthorized");
    const stale = await simulator.postText(callbackUrl, { from: "mallory", content: "hi", msgId: "2002" }, { timestamp: Math.floor(Date.now() / 1000) - 3600 });
    expect(stale.status).toBe(401);
    expect((await simulator.verifyUrl(callbackUrl, "x", { forge: true })).status).toBe(401);
    expect(authFailures.filter((reason) => reason.includes("msg_signature"))).toHaveLength(2);
    expect(authFailures.filter((reason) => reason.includes("timestamp"))).toHaveLength(1);
    // Bob's answer comes through the same queue after anything mallory could have caused.
    await simulator.postText(callbackUrl, { from: "bob", content: "Name a colour.", msgId: "2003" });
    await until(() => answersTo("bob").length > 0, "bob's answer");
    expect(answersTo("mallory")).toEqual([]);
  }, 60_000);

  it("answers a MsgId delivered twice (WeCom's retry) once", async () => {
    const first = await simulator.postText(callbackUrl, { from: "carol", content: "Name a fruit.", msgId: "3001" });
    const retry = await simulator.postText(callbackUrl, { from: "carol", content: "Name a fruit.", msgId: "3001" });
    expect([first, retry]).toEqual([{ status: 200, body: "" }, { status: 200, body: "" }]);
    await until(() => answersTo("carol").length > 0, "carol's answer");
    await simulator.postText(callbackUrl, { from: "carol", content: "Name an animal.", msgId: "3002" });
    await until(() => answersTo("carol").length > 1, "carol's second answer");
    expect(answersTo("carol")).toHaveLength(2);
  }, 60_000);

  it("recovers from a token expired mid-run (new gettoken) and a rate-limit errcode (45009, retried)", async () => {
    await until(() => simulator.tokenCalls > 0 && simulator.tokenCalls, "a first token");
    const tokenCalls = simulator.tokenCalls;
    simulator.expireToken();
    simulator.failNextSends(45009);
    await simulator.postText(callbackUrl, { from: "dave", content: "Name a country.", msgId: "4001" });
    await until(() => answersTo("dave").length > 0, "dave's answer");
    expect(simulator.tokenCalls).toBe(tokenCalls + 1);
    // The platform's errors show in the channel metrics: the retried pieces, and every delivered one.
    const metrics = await (await fetch(`http://127.0.0.1:${node.daemon.metrics.port}/metrics`)).text();
    const series = (outcome: string) => Number(new RegExp(`^clawbot_im_deliveries_total\\{gateway="wecom",outcome="${outcome}"\\} (\\d+)$`, "m").exec(metrics)?.[1]);
    expect(series("retried")).toBeGreaterThanOrEqual(2);
    expect(series("delivered")).toBeGreaterThanOrEqual(answersTo("dave").length);
    expect(series("failed")).toBe(0);
  }, 60_000);

  it("acknowledges events and non-text messages with an empty 200 and does not answer them", async () => {
    const event = "<xml><ToUserName><![CDATA[c]]></ToUserName><FromUserName><![CDATA[erin]]></FromUserName><MsgType><![CDATA[event]]></MsgType><Event><![CDATA[enter_agent]]></Event></xml>";
    expect(await simulator.postInner(callbackUrl, event)).toEqual({ status: 200, body: "" });
    const gateway = node.daemon.gateways.find((candidate): candidate is WecomCallbackGateway => candidate instanceof WecomCallbackGateway)!;
    expect(gateway.ignored.get("event:enter_agent")).toBe(1);
  });
});

describe("WeCom AI-bot long connection", () => {
  const streamsOf = (reqId: string) => simulator.streams.filter((stream) => stream.reqId === reqId);

  it("subscribes, and streams a real answer back ending with finish: true", async () => {
    await until(() => simulator.botConnected, "the AI bot to subscribe");
    const reqId = simulator.pushBotMessage({ msgid: "bot-1", from: "frank", content: "Say hello in one short sentence." });
    const final = await until(() => streamsOf(reqId).find((stream) => stream.finish), "the finished stream");
    expect(final.content.trim().length).toBeGreaterThan(0);
    expect(new Set(streamsOf(reqId).map((stream) => stream.id))).toEqual(new Set([final.id]));
    expect(streamsOf(reqId).filter((stream) => stream.finish)).toHaveLength(1);
  }, 60_000);

  it("reconnects after a drop; the next message is answered and a re-pushed one is not answered twice", async () => {
    const subscribed = simulator.subscriptions.length;
    simulator.dropBot();
    await until(() => simulator.botConnected && simulator.subscriptions.length > subscribed, "the AI bot to resubscribe");
    const repeated = simulator.pushBotMessage({ msgid: "bot-1", from: "frank", content: "Say hello in one short sentence." });
    const group = simulator.pushBotMessage({ msgid: "bot-2", from: "frank", content: "@Clawbot Name a colour.", chattype: "group", chatid: "group-1" });
    await until(() => streamsOf(group).find((stream) => stream.finish), "the answer after the reconnect");
    expect(streamsOf(repeated)).toEqual([]);
    expect(simulator.subscriptions.every((outcome) => outcome === "ok")).toBe(true);
  }, 60_000);
});
