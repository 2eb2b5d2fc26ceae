// Fuzzes the DingTalk adapter of a real node (~15–25 s): Stream frames from the platform's side, and callback bodies and headers.
import fc from "fast-check";
import { afterAll, describe, expect, it } from "vitest";
import { DingtalkSimulator, waitFor } from "../helpers/dingtalk-simulator.js";
import { expectWebsocketServed, isCoded, type HostileNode } from "../helpers/hostile-node.js";
import { badUtf8Arbitrary, deepJsonArbitrary, hugeNumberText, wrongTypeValue } from "./hostile-inputs.js";
import { useHostileNode } from "./use-hostile-node.js";

let node: HostileNode;
let simulator: DingtalkSimulator | undefined;

useHostileNode(
  async () => {
    simulator ??= await new DingtalkSimulator().start();
    const common = { type: "custom", protocol: "dingtalk", client_id: simulator.clientId, client_secret: simulator.clientSecret, api_base: simulator.apiBase };
    return { gateways: [{ ...common, reconnect_max_delay: 1 }, { ...common, mode: "callback" }], agent: { max_tokens: 16 } };
  },
  (started) => (node = started),
);

afterAll(async () => simulator?.close());

const oversized = "x".repeat(1024 * 1024 + 16);

/** A robot message with some fields replaced by hostile values. */
const mutatedMessage = fc
  .record({
    field: fc.constantFrom("msgId", "conversationId", "conversationType", "senderId", "senderStaffId", "isInAtList", "text", "sessionWebhook", "sessionWebhookExpiredTime", "msgtype"),
    value: fc.oneof(wrongTypeValue, fc.string({ maxLength: 40 }), fc.constant("file:///etc/passwd"), fc.constant("http://127.0.0.1:1/x"), fc.constant(undefined)),
  })
  .map(({ field, value }) => ({ ...simulator!.botMessage("fuzz"), [field]: value }));

const downFrame: fc.Arbitrary<string | Buffer> = fc.oneof(
  { weight: 30, arbitrary: fc.record({
    specVersion: fc.oneof(fc.constant("1.0"), wrongTypeValue),
    type: fc.oneof(fc.constantFrom("SYSTEM", "CALLBACK", "EVENT", "system", ""), wrongTypeValue),
    headers: fc.oneof(
      fc.record({ messageId: fc.oneof(fc.uuid(), wrongTypeValue), topic: fc.oneof(fc.constantFrom("ping", "disconnect", "CONNECTED", "KEEPALIVE", "/v1.0/im/bot/messages/get", "/other"), wrongTypeValue) }, { requiredKeys: [] }),
      wrongTypeValue,
    ),
    data: fc.oneof(mutatedMessage.map((message) => JSON.stringify(message)), fc.string({ maxLength: 60 }), deepJsonArbitrary, hugeNumberText, wrongTypeValue),
  }, { requiredKeys: [] }).map((frame) => JSON.stringify(frame)) },
  { weight: 3, arbitrary: fc.string({ maxLength: 200 }) },
  { weight: 3, arbitrary: deepJsonArbitrary },
  { weight: 3, arbitrary: badUtf8Arbitrary },
  { weight: 3, arbitrary: fc.uint8Array({ maxLength: 64 }).map((bytes) => Buffer.from(bytes)) },
  // Over the adapter's 1 MiB frame limit: the connection is closed (1009) and replaced.
  { weight: 1, arbitrary: fc.constant(oversized) },
);

/** A SYSTEM ping's echo, once the adapter is connected (again), within 20 s. */
async function pingEcho(): Promise<Record<string, unknown> | undefined> {
  const deadline = Date.now() + 20_000;
  while (Date.now() < deadline) {
    const echo = simulator!.connected ? await simulator!.ping(1000).catch(() => undefined) : undefined;
    if (echo) return echo;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return undefined;
}

describe("hostile DingTalk platform frames and callbacks", () => {
  it("ignores or refuses every generated Stream frame, keeps its connection or reconnects, and still answers", async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(downFrame, { minLength: 1, maxLength: 6 }), async (frames) => {
        await waitFor(() => simulator!.connected, 15_000, "the Stream connection");
        for (const frame of frames) simulator!.sendRaw(frame);
        // "disconnect" frames make the node move to a new connection: it must come back, and still echo pings.
        expect(await pingEcho(), `sent ${frames.map((frame) => String(frame).slice(0, 120)).join(" | ")}`).toMatchObject({ code: 200 });
        expect(await node.stillAliveAfter(0), node.cli.describe().slice(-3000)).toBe(true);
      }),
      { numRuns: 40, endOnFailure: true },
    );
    const message = simulator!.botMessage("after the fuzz");
    simulator!.push(message);
    const session = new URL(String(message.sessionWebhook)).searchParams.get("session");
    await waitFor(() => simulator!.sent.find((sent) => sent.to === session), 20_000, "the answer after the fuzz");
  });

  it("answers every generated callback with 200 or a coded 4xx, never a 5xx", async () => {
    const headers = fc.record({
      timestamp: fc.oneof(fc.constant("now"), fc.constant("stale"), fc.string({ maxLength: 20 }), hugeNumberText),
      sign: fc.oneof(fc.constant("valid"), fc.base64String({ maxLength: 60 }), fc.string({ maxLength: 60 })),
      contentType: fc.constantFrom("application/json", "text/plain", "application/json; charset=utf-8", ""),
    });
    const body = fc.oneof(mutatedMessage.map((message) => JSON.stringify(message)), fc.string({ maxLength: 100 }), deepJsonArbitrary, wrongTypeValue.map((value) => JSON.stringify(value) ?? ""));
    await fc.assert(
      fc.asyncProperty(headers, body, async (header, text) => {
        const now = Date.now();
        const timestamp = header.timestamp === "now" ? String(now) : header.timestamp === "stale" ? String(now - 3_600_000) : header.timestamp;
        const signed = simulator!.callbackHeaders(Number(timestamp));
        const sent: Record<string, string> = { timestamp, sign: header.sign === "valid" ? (signed.sign ?? "") : header.sign };
        if (header.contentType) sent["content-type"] = header.contentType;
        const response = await fetch(`${node.httpUrl}/dingtalk/callback`, { method: "POST", headers: sent, body: text });
        const answer = (await response.json().catch(() => ({}))) as { error?: { code?: unknown } };
        const context = `${JSON.stringify(sent)} ${text.slice(0, 200)} → ${response.status} ${JSON.stringify(answer).slice(0, 200)}`;
        expect(response.status, context).toBeLessThan(500);
        if (response.status !== 200) expect(isCoded(answer.error?.code), context).toBe(true);
      }),
      { numRuns: 150, endOnFailure: true },
    );
    expect(await node.stillAliveAfter(200)).toBe(true);
    await expectWebsocketServed(node);
  });
});
