// Fuzzes the Feishu adapter of a real node (~40 s): webhook bodies and headers, and pbbp2 frames from the platform's side of the long connection.
import fc from "fast-check";
import { afterAll, describe, expect, it } from "vitest";
import { FeishuSimulator, encodeFrame, encryptText, feishuApp, messageEvent, signedDelivery } from "../helpers/feishu-simulator.js";
import { expectWebsocketServed, isCoded, type HostileNode } from "../helpers/hostile-node.js";
import { until } from "../helpers/wecom-simulator.js";
import { badUtf8Arbitrary, deepJsonArbitrary, hugeNumberText, wrongTypeValue } from "./hostile-inputs.js";
import { useHostileNode } from "./use-hostile-node.js";

let node: HostileNode;
let simulator: FeishuSimulator | undefined;
let unique = 0;

useHostileNode(
  async () => {
    simulator ??= await FeishuSimulator.start();
    const app = { type: "custom", protocol: "feishu", app_id: feishuApp.appId, app_secret: feishuApp.appSecret, api_base: simulator.apiBase };
    return {
      gateways: [
        { ...app, mode: "webhook", encrypt_key: feishuApp.encryptKey, verification_token: feishuApp.verificationToken },
        { ...app, mode: "webhook", verification_token: feishuApp.verificationToken, callback_path: "/feishu/plain" },
        { ...app, mode: "long_connection" },
      ],
      agent: { max_tokens: 16 },
    };
  },
  (started) => (node = started),
);

afterAll(async () => simulator?.close());

/** A message event with one field replaced by a hostile value. */
const mutatedEvent = fc
  .record({
    field: fc.constantFrom("message_id", "chat_id", "chat_type", "message_type", "content", "mentions", "sender"),
    value: fc.oneof(wrongTypeValue, fc.string({ maxLength: 40 }), fc.constant('{"text":"@_user_1"}'), fc.constant(undefined)),
  })
  .map(({ field, value }) => {
    const event = messageEvent({ messageId: `om_fuzz_${(unique += 1)}`, text: "fuzz" });
    if (field === "sender") return { ...event, event: { ...event.event, sender: value } };
    return { ...event, event: { ...event.event, message: { ...event.event.message, [field]: value } } };
  });

/** JSON texts a delivery or event frame may carry (deeply nested ones stay text: parsing them would overflow the stack here). */
const jsonText = fc.oneof(
  mutatedEvent.map((event) => JSON.stringify(event)),
  deepJsonArbitrary,
  wrongTypeValue.map((value) => JSON.stringify(value) ?? "null"),
  fc.record({ type: fc.constant("url_verification"), challenge: wrongTypeValue, token: fc.constant(feishuApp.verificationToken) }).map((value) => JSON.stringify(value)),
);

describe("hostile Feishu deliveries and long-connection frames", () => {
  it("answers every generated webhook delivery with 200 or a coded 4xx, never a 5xx", async () => {
    const delivery = fc.record({
      path: fc.constantFrom("/feishu/events", "/feishu/plain"),
      form: fc.constantFrom("signed", "encrypted-unsigned", "plain", "raw"),
      json: jsonText,
      raw: fc.oneof(fc.string({ maxLength: 200 }), badUtf8Arbitrary.map((bytes) => bytes.toString("latin1")), hugeNumberText, fc.base64String({ maxLength: 80 }).map((text) => JSON.stringify({ encrypt: text }))),
      timestamp: fc.oneof(fc.constant(undefined), fc.string({ maxLength: 20 }), hugeNumberText),
      contentType: fc.constantFrom("application/json", "text/plain", "application/json; charset=utf-8", ""),
    });
    await fc.assert(
      fc.asyncProperty(delivery, async (item) => {
        let body = item.form === "raw" ? item.raw : item.json;
        let headers: Record<string, string> = {};
        if (item.form === "signed") ({ body, headers } = signedDelivery(undefined, { plaintext: item.json }));
        if (item.form === "encrypted-unsigned") body = JSON.stringify({ encrypt: encryptText(item.json, feishuApp.encryptKey) });
        if (item.timestamp !== undefined) headers["x-lark-request-timestamp"] = item.timestamp;
        if (item.contentType) headers["content-type"] = item.contentType;
        else delete headers["content-type"];
        const response = await fetch(`${node.httpUrl}${item.path}`, { method: "POST", headers, body });
        const answer = (await response.json().catch(() => ({}))) as { error?: { code?: unknown } };
        const context = `${item.path} ${item.form} ${JSON.stringify(headers)} ${body.slice(0, 200)} → ${response.status} ${JSON.stringify(answer).slice(0, 200)}`;
        expect(response.status, context).toBeLessThan(500);
        // The route itself answered (a missing mount would pass as a coded 404).
        expect([404, 405], context).not.toContain(response.status);
        if (response.status !== 200) expect(isCoded(answer.error?.code), context).toBe(true);
      }),
      { numRuns: 150, endOnFailure: true },
    );
    expect(await node.stillAliveAfter(200)).toBe(true);
    await expectWebsocketServed(node);
  });

  it("survives generated pbbp2 frames and bytes on the long connection, and still answers", async () => {
    const header = fc.record({ key: fc.constantFrom("type", "message_id", "sum", "seq", "trace_id", "x"), value: fc.oneof(fc.constantFrom("event", "ping", "pong", "card", "0", "1", "-1", "99999999"), fc.string({ maxLength: 12 })) });
    const frame = fc.oneof(
      fc
        .record({
          method: fc.integer({ min: -1, max: 3 }),
          headers: fc.array(header, { maxLength: 6 }),
          payload: fc.oneof(jsonText.map((text) => Buffer.from(text)), badUtf8Arbitrary, fc.uint8Array({ maxLength: 64 })),
        })
        .map(({ method, headers, payload }) => Buffer.from(encodeFrame({ SeqID: 0, LogID: 0, service: 7, method, headers, payload }))),
      fc.uint8Array({ maxLength: 64 }).map((bytes) => Buffer.from(bytes)),
    );
    await until(() => simulator!.open === 1, "the long connection", 20_000);
    await fc.assert(
      fc.asyncProperty(fc.array(frame, { minLength: 1, maxLength: 6 }), async (frames) => {
        for (const bytes of frames) simulator!.pushRaw(bytes);
        expect(await node.stillAliveAfter(0), node.cli.describe().slice(-3000)).toBe(true);
      }),
      { numRuns: 60, endOnFailure: true },
    );
    // Mutated events may have been answered too; a well-formed one afterwards must be ACKed and answered.
    await until(() => simulator!.open === 1, "the long connection after the fuzz", 20_000);
    const messageId = `om_after_fuzz_${(unique += 1)}`;
    const frameId = simulator!.push(messageEvent({ messageId, text: "after the fuzz", chatId: "oc_after_fuzz" }));
    await until(() => simulator!.acks.get(frameId)?.code === 200, "the ACK after the fuzz", 20_000);
    await until(() => simulator!.repliesTo(messageId).length > 0, "the answer after the fuzz", 20_000);
  });
});
