// Fuzzes the WeCom adapter of a real node: callback queries, bodies (XML junk, bad base64, wrong sizes, huge) and AI-bot frames from the WeCom side.
import fc from "fast-check";
import { afterAll, describe, expect, it } from "vitest";
import { encryptMessage } from "../../src/gateways/im/wecom/wx-biz-msg-crypt.js";
import { expectHttpServed, isCoded, type HostileNode } from "../helpers/hostile-node.js";
import { until, wecomApp, wecomBot, WecomSimulator } from "../helpers/wecom-simulator.js";
import { badUtf8Arbitrary } from "./hostile-inputs.js";
import { useHostileNode } from "./use-hostile-node.js";

let simulator: WecomSimulator | undefined;
let node: HostileNode;

useHostileNode(
  async () => {
    simulator ??= await WecomSimulator.start();
    const app = { corp_id: wecomApp.corpId, corp_secret: wecomApp.corpSecret, agent_id: wecomApp.agentId, token: wecomApp.token, encoding_aes_key: wecomApp.encodingAesKey };
    return {
      gateways: [
        { type: "custom", protocol: "wecom", ...app, api_base: simulator.apiBase },
        { type: "custom", protocol: "wecom", mode: "aibot", bot_id: wecomBot.botId, secret: wecomBot.secret, ws_url: simulator.wsUrl },
      ],
    };
  },
  (started) => (node = started),
);
afterAll(async () => simulator?.close());

const callback = () => `${node.httpUrl}/wecom/callback`;
const sim = () => simulator!;

/** Every answer is the empty acknowledgement or a coded error; never a 5xx. */
async function expectCodedOrAck(response: Response): Promise<void> {
  const body = await response.text();
  if (response.status === 200) return void expect(body).toBe("");
  expect(response.status).toBeGreaterThanOrEqual(400);
  expect(response.status).toBeLessThan(500);
  expect(isCoded(JSON.parse(body).error.code)).toBe(true);
}

const junkXml = fc.oneof(
  fc.string({ maxLength: 300 }),
  fc.constantFrom("<xml></xml>", "<xml><Encrypt></Encrypt></xml>", "<xml><Encrypt>a</Encrypt><Encrypt>b</Encrypt></xml>", "<xml><a><b/></a></xml>", "<?xml version='1.0'?><!DOCTYPE x [<!ENTITY e SYSTEM 'file:///etc/passwd'>]><xml>&e;</xml>"),
  fc.string({ maxLength: 200 }).map((encrypt) => `<xml><Encrypt><![CDATA[${encrypt}]]></Encrypt></xml>`),
  fc.uint8Array({ maxLength: 120 }).map((bytes) => `<xml><Encrypt>${Buffer.from(bytes).toString("base64")}</Encrypt></xml>`),
  fc.string({ maxLength: 400 }).map((inner) => `<xml><Encrypt>${encryptMessage({ encodingAesKey: wecomApp.encodingAesKey, message: inner, receiveId: wecomApp.corpId })}</Encrypt></xml>`),
);

describe("WeCom callback under hostile deliveries", () => {
  it("answers fuzzed bodies, signed or not, with an empty acknowledgement or a coded refusal", async () => {
    await fc.assert(
      fc.asyncProperty(junkXml, fc.boolean(), fc.constantFrom("text/xml", "application/json", "application/x-www-form-urlencoded", ""), async (body, signed, contentType) => {
        const encrypt = /<Encrypt>(?:<!\[CDATA\[)?([\s\S]*?)(?:\]\]>)?<\/Encrypt>/.exec(body)?.[1] ?? "";
        const query = signed ? sim().signedQuery(encrypt) : new URLSearchParams({ msg_signature: "0".repeat(40), timestamp: "1", nonce: "n" });
        await expectCodedOrAck(await fetch(`${callback()}?${query}`, { method: "POST", headers: contentType ? { "content-type": contentType } : {}, body }));
      }),
      { numRuns: 60 },
    );
  }, 120_000);

  it("refuses fuzzed queries (missing, repeated, huge, bad UTF-8) and bodies that are binary or oversized", async () => {
    await fc.assert(
      fc.asyncProperty(fc.dictionary(fc.constantFrom("msg_signature", "timestamp", "nonce", "echostr", "x"), fc.oneof(fc.string({ maxLength: 50 }), fc.constant("9".repeat(5000))), { maxKeys: 5 }), fc.constantFrom("GET", "POST"), async (query, method) => {
        const search = new URLSearchParams(query);
        if (query.nonce !== undefined) search.append("nonce", "again");
        const response = await fetch(`${callback()}?${search}`, { method, ...(method === "POST" ? { body: "<xml><Encrypt>AAAA</Encrypt></xml>" } : {}) });
        expect(response.status).not.toBe(200);
        await expectCodedOrAck(response);
      }),
      { numRuns: 40 },
    );
    await fc.assert(
      fc.asyncProperty(badUtf8Arbitrary, async (bytes) => {
        await expectCodedOrAck(await fetch(`${callback()}?${sim().signedQuery("x")}`, { method: "POST", body: bytes }));
      }),
      { numRuns: 20 },
    );
    // Over the body limit: a coded 413, or the connection closed mid-upload (the rest is never read).
    const huge = await fetch(`${callback()}?${sim().signedQuery("x")}`, { method: "POST", body: `<xml><Encrypt>${"A".repeat(2_000_000)}</Encrypt></xml>` }).catch(() => undefined);
    if (huge) {
      expect(huge.status).toBe(413);
      await huge.text();
    }
  }, 120_000);

  it("still answers a real member after the fuzzing", async () => {
    const from = `member-${Date.now()}`;
    expect(await sim().postText(callback(), { from, content: "still there?", msgId: String(Date.now()) })).toEqual({ status: 200, body: "" });
    const answer = await until(() => sim().sent.find((message) => message.touser === from), "the member's answer");
    expect(answer.content).toBe("still there?");
    await expectHttpServed(node);
  }, 60_000);
});

describe("WeCom AI bot under hostile frames from the platform side", () => {
  const frame = fc.oneof(
    fc.string({ maxLength: 200 }),
    fc.jsonValue({ maxDepth: 3 }).map((value) => JSON.stringify(value)),
    fc.record({ cmd: fc.constantFrom("aibot_msg_callback", "aibot_event_callback", "ping", "x"), headers: fc.oneof(fc.constant({}), fc.record({ req_id: fc.oneof(fc.string(), fc.integer()) })), body: fc.jsonValue({ maxDepth: 3 }) }).map((value) => JSON.stringify(value)),
    fc.record({ headers: fc.record({ req_id: fc.string() }), errcode: fc.integer() }).map((value) => JSON.stringify(value)),
    badUtf8Arbitrary,
  );

  it("ignores or refuses fuzzed frames and keeps answering real messages", async () => {
    await until(() => sim().botConnected, "the AI bot to subscribe");
    await fc.assert(
      fc.asyncProperty(fc.array(frame, { minLength: 1, maxLength: 10 }), async (frames) => {
        for (const data of frames) if (sim().botConnected) sim().sendToBot(data);
        await until(() => sim().botConnected, "the AI bot to stay or come back");
      }),
      { numRuns: 30 },
    );
    const msgid = `fuzz-after-${Date.now()}`;
    const reqId = sim().pushBotMessage({ msgid, from: "member", content: "still streaming?" });
    const final = await until(() => sim().streams.find((stream) => stream.reqId === reqId && stream.finish), "the streamed answer");
    expect(final.content).toBe("still streaming?");
    node.assertAlive("after the AI-bot fuzzing");
  }, 120_000);
});
