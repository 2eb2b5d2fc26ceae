// DingTalk end to end (~30 s, most of it the node's start): a real node and model against the DingTalk simulator, in Stream mode and as the robot HTTP callback.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { GatewayEvents } from "../src/gateways/gateway-events.js";
import { ignoredGatewayEvents } from "../src/gateways/gateway-events.js";
import { freePort } from "./helpers/free-port.js";
import { DingtalkSimulator, waitFor, type SentMessage } from "./helpers/dingtalk-simulator.js";
import { startTestNode, type TestNode } from "./helpers/test-node.js";

let simulator: DingtalkSimulator;
let node: TestNode;
let ownPort: number;
const authFailures: { code: string; reason: string }[] = [];
const connectionEvents = { opened: 0, closed: 0 };

beforeAll(async () => {
  simulator = await new DingtalkSimulator().start();
  const common = { type: "custom", protocol: "dingtalk", client_id: simulator.clientId, client_secret: simulator.clientSecret, api_base: simulator.apiBase, delivery_timeout: 30 };
  const events = (gateway: string): GatewayEvents =>
    gateway === "dingtalk"
      ? {
          ...ignoredGatewayEvents,
          authFailed: (code, reason) => void authFailures.push({ code, reason }),
          connectionOpened: () => void (connectionEvents.opened += 1),
          connectionClosed: () => void (connectionEvents.closed += 1),
        }
      : ignoredGatewayEvents;
  ownPort = await freePort();
  node = await startTestNode({
    agent: { max_tokens: 12 },
    extraGateways: [{ ...common, reconnect_max_delay: 2 }, { ...common, mode: "callback" }, { ...common, mode: "callback", port: ownPort, callback_path: "/robot" }],
    observe: { events },
  });
  await waitFor(() => simulator.connected, 60_000, "the Stream connection");
}, 120_000);

afterAll(async () => {
  await node?.close();
  await simulator?.close();
});

/** The session id in a message's sessionWebhook URL (what the simulator records answers under). */
function sessionOf(message: Record<string, unknown>): string {
  return new URL(String(message.sessionWebhook)).searchParams.get("session") ?? "";
}

/** Waits for an answer matching `match`, and checks it is the model's text, not an error reply. */
async function answer(match: (sent: SentMessage) => boolean, what: string): Promise<SentMessage> {
  const sent = await waitFor(() => simulator.sent.find(match), 30_000, what);
  expect(sent.text.trim().length).toBeGreaterThan(0);
  expect(sent.text).not.toMatch(/^Sorry —|^\(The assistant/);
  return sent;
}

/** Waits until the simulator has nothing un-ACKed and the Stream gateway nothing in flight. */
async function settled(): Promise<void> {
  const stream = node.daemon.gateways.find((gateway) => gateway.name.startsWith("dingtalk stream"))!;
  await waitFor(() => {
    const status = stream.status() as unknown as { answering: number; queued: number };
    return simulator.allAcked && status.answering === 0 && status.queued === 0;
  }, 30_000, "the Stream gateway to settle");
}

describe("DingTalk Stream mode", () => {
  it("ACKs a message at once, then answers through its sessionWebhook", async () => {
    const message = simulator.botMessage("Say hello.");
    const messageId = simulator.push(message);
    const sent = await answer((entry) => entry.to === sessionOf(message), "the answer");
    expect(sent.via).toBe("sessionWebhook");
    const ack = simulator.upFrames.find((up) => (up.frame.headers as Record<string, unknown>).messageId === messageId)!;
    expect(ack.frame).toMatchObject({ code: 200, message: "OK", headers: { contentType: "application/json", messageId } });
    expect(JSON.parse(String(ack.frame.data))).toEqual({ response: null });
    expect(ack.at).toBeLessThanOrEqual(sent.at);
  });

  it("echoes a SYSTEM ping with its headers and data", async () => {
    const echo = await simulator.ping();
    expect(echo).toMatchObject({ code: 200, message: "OK", headers: { topic: "ping" } });
    expect(JSON.parse(String(echo.data))).toHaveProperty("opaque", (echo.headers as Record<string, unknown>).messageId);
  });

  it("uses the robot OpenAPI when the sessionWebhook expired, ignores unmentioned group messages, and replaces a revoked token", async () => {
    simulator.push(simulator.botMessage("Ignore me, nobody mentioned you.", { group: true, mentioned: false, webhook: "none" }));
    simulator.push(simulator.botMessage("Say yes.", { staffId: "staff-expired", webhook: "expired" }));
    await answer((entry) => entry.via === "batchSend" && entry.to === "staff-expired", "the batchSend answer");
    simulator.push(simulator.botMessage("Say no.", { group: true, mentioned: true, webhook: "expired" }));
    await answer((entry) => entry.via === "groupSend", "the group answer");
    expect(simulator.sent.filter((entry) => entry.via === "groupSend")).toHaveLength(1);
    expect(simulator.tokensIssued).toBe(1);
    simulator.expireTokens();
    simulator.push(simulator.botMessage("Say maybe.", { staffId: "staff-revoked", webhook: "expired" }));
    await answer((entry) => entry.via === "batchSend" && entry.to === "staff-revoked", "the answer after the token was revoked");
    expect(simulator.refusedTokens).toBeGreaterThanOrEqual(1);
    expect(simulator.tokensIssued).toBe(2);
  });

  it("reconnects with a new ticket after a drop or a disconnect, losing nothing and answering nothing twice", async () => {
    const tickets = simulator.ticketsIssued;
    const opened = connectionEvents.opened;
    simulator.drop();
    const whileDown = simulator.botMessage("Count to three.");
    simulator.push(whileDown);
    await answer((entry) => entry.to === sessionOf(whileDown), "the message pushed during the drop");
    expect(simulator.ticketsIssued).toBeGreaterThan(tickets);

    // Dropped right after the push: its ACK may be lost, so the platform pushes it again on the next connection.
    const unacked = simulator.botMessage("Name a colour.");
    simulator.push(unacked, { dropAfterSend: true });
    const duplicate = simulator.botMessage("Name a fruit.");
    simulator.push(duplicate);
    simulator.push(duplicate);
    await answer((entry) => entry.to === sessionOf(unacked), "the re-pushed message");
    await answer((entry) => entry.to === sessionOf(duplicate), "the duplicated message");

    const beforeDisconnect = simulator.ticketsIssued;
    simulator.disconnect();
    await waitFor(() => simulator.ticketsIssued > beforeDisconnect && simulator.connected, 15_000, "the reconnect after disconnect");
    const afterDisconnect = simulator.botMessage("Say goodbye.");
    simulator.push(afterDisconnect);
    await answer((entry) => entry.to === sessionOf(afterDisconnect), "the message after the disconnect");
    await settled();
    // Three drops (drop, drop after push, disconnect), each a closed and a newly opened connection.
    expect(connectionEvents.opened - opened).toBeGreaterThanOrEqual(3);
    expect(connectionEvents.closed).toBeGreaterThanOrEqual(3);
    for (const message of [whileDown, unacked, duplicate, afterDisconnect]) {
      expect(simulator.sent.filter((entry) => entry.to === sessionOf(message)), String(message.msgId)).toHaveLength(1);
    }
  });
});

describe("DingTalk robot HTTP callback", () => {
  const url = () => `${node.httpUrl}/dingtalk/callback`;
  const post = (body: unknown, headers: Record<string, string>) => fetch(url(), { method: "POST", headers, body: JSON.stringify(body) });

  it("answers a signed delivery, ignores its replay, and refuses forged or stale signatures", async () => {
    const message = simulator.botMessage("Say thanks.", { staffId: "staff-callback" });
    const accepted = await post(message, simulator.callbackHeaders());
    expect(accepted.status).toBe(200);
    await answer((entry) => entry.to === sessionOf(message), "the callback answer");

    const replay = await post(message, simulator.callbackHeaders());
    expect(replay.status).toBe(200);

    const failuresBefore = authFailures.length;
    const forgedMessage = simulator.botMessage("Say forged.");
    const staleMessage = simulator.botMessage("Say stale.");
    const forged = await post(forgedMessage, simulator.callbackHeaders(Date.now(), "not-the-secret"));
    expect(forged.status).toBe(401);
    expect(((await forged.json()) as { error: { code: string } }).error.code).toBe("unauthorized");
    const stale = await post(staleMessage, simulator.callbackHeaders(Date.now() - 600_000));
    expect(stale.status).toBe(401);
    expect(((await stale.json()) as { error: { message: string } }).error.message).toMatch(/stale/);
    expect(authFailures.slice(failuresBefore).map((failure) => failure.code)).toEqual(["unauthorized", "unauthorized"]);

    const malformed = await post({ msgId: 3 }, simulator.callbackHeaders());
    expect(malformed.status).toBe(400);
    // A later message is answered, and by then the replay would have been too.
    const later = simulator.botMessage("Say done.", { staffId: "staff-callback" });
    await post(later, simulator.callbackHeaders());
    await answer((entry) => entry.to === sessionOf(later), "the later callback answer");
    expect(simulator.sent.filter((entry) => entry.to === sessionOf(message))).toHaveLength(1);
    expect(simulator.sent.some((entry) => entry.to === sessionOf(forgedMessage) || entry.to === sessionOf(staleMessage))).toBe(false);
  });

  it("serves a callback on a port of its own", async () => {
    const message = simulator.botMessage("Say hi.", { staffId: "staff-own-port" });
    const response = await fetch(`http://127.0.0.1:${ownPort}/robot`, { method: "POST", headers: simulator.callbackHeaders(), body: JSON.stringify(message) });
    expect(response.status).toBe(200);
    await answer((entry) => entry.to === sessionOf(message), "the answer from the own-port callback");
    const wrongPath = await fetch(`http://127.0.0.1:${ownPort}/dingtalk/callback`, { method: "POST", headers: simulator.callbackHeaders(), body: JSON.stringify(message) });
    expect(wrongPath.status).toBe(404);
  });
});
