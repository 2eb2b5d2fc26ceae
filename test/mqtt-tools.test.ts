// Node-side tools over MQTT against a real Mosquitto (echo engine, the ward-tools plugin): the tool frames go to the
// reply topic, a `confirm: true` tool is denied (no approval channel), and tool.approve frames are refused.
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { findMosquitto, missingMosquittoMessage, MosquittoBroker } from "./helpers/mosquitto.js";
import { MqttTestClient } from "./helpers/mqtt-test-client.js";
import { startTestNode, type TestNode } from "./helpers/test-node.js";

// Without mosquitto the tests are skipped on a developer machine, but fail loudly in CI.
const skip = !findMosquitto() && !process.env.CI;
if (skip) console.warn(`Skipping the MQTT tools tests: ${missingMosquittoMessage}`);

describe.skipIf(skip)("tools over MQTT (echo engine, ward-tools plugin)", () => {
  let broker: MosquittoBroker;
  let node: TestNode;
  let client: MqttTestClient;
  let token: string;

  beforeAll(async () => {
    broker = await MosquittoBroker.start();
    node = await startTestNode({
      agent: { engine: "echo" },
      plugins: [{ path: path.resolve("test/fixtures/plugins/ward-tools-plugin.ts") }],
      // Long, so a denial can only come from the missing approval channel, not from a timeout.
      tools: { approval_timeout: 600 },
      mqttBroker: broker.url,
    });
    token = await node.token("alice");
    client = await MqttTestClient.connect(broker.url, "alice", { prefix: node.mqtt?.prefix });
  });

  afterAll(async () => {
    await client?.close();
    await node?.close();
    await broker?.close();
  });

  const types = (id: string) => {
    const all = client.framesOf(id).map((frame) => frame.type);
    return all.filter((type, index) => !(type === "text-delta" && all[index - 1] === "text-delta"));
  };

  it("publishes tool-call and tool-result frames on the reply topic, before the answer that read the result", async () => {
    const { end } = await client.chat("beds", 'free_beds {"ward":"ward-1"}', { token, params: { tool_choice: "required" } });
    expect(end).toMatchObject({ type: "finish", finish_reason: "stop" });
    expect(types("beds")).toEqual(["tool-call", "tool-result", "text-delta", "finish"]);
    const [call, result] = client.framesOf("beds");
    expect(call).toMatchObject({ type: "tool-call", call: { name: "free_beds", arguments: '{"ward":"ward-1"}' } });
    expect(result).toMatchObject({ type: "tool-result", call_id: (call?.call as { id: string }).id, outcome: "ok", content: '{"ward":"ward-1","free":3}' });
    expect(String(end.text)).toContain('{"ward":"ward-1","free":3}');
    const replyTopics = new Set(client.received.filter(({ frame }) => frame.id === "beds").map(({ topic }) => topic));
    expect([...replyTopics]).toEqual([`${node.mqtt?.prefix}/res/alice`]);
  });

  it("sends tool frames without stream too (only text-deltas are left out)", async () => {
    const { end } = await client.chat("quiet", 'free_beds {"ward":"icu"}', { token, stream: false, params: { tool_choice: { name: "free_beds" } } });
    expect(end.type).toBe("finish");
    expect(types("quiet")).toEqual(["tool-call", "tool-result", "finish"]);
  });

  it("denies a confirm tool at once: there is no approval channel", async () => {
    const { end } = await client.chat("page", 'page {"ward":"icu","message":"bed 4"}', { token, params: { tool_choice: { type: "function", function: { name: "page_doctor" } } } });
    expect(end.type).toBe("finish");
    expect(types("page")).toEqual(["tool-call", "tool-result", "text-delta", "finish"]);
    const result = client.framesOf("page").find((frame) => frame.type === "tool-result");
    expect(result).toMatchObject({ name: "page_doctor", outcome: "denied" });
    expect(String(result?.content)).not.toContain("paged");
  });

  it("refuses a tool.approve frame, a malformed tool_choice and an unknown agent with bad_request", async () => {
    const before = client.received.length;
    await client.publish({ type: "tool.approve", id: "page", call_id: "call_x", approved: true, token });
    const refused = await client.next((received) => client.received.indexOf(received) >= before && received.frame.type === "error");
    expect(refused.frame).toMatchObject({ id: null, code: "bad_request" });
    const malformed = await client.chat("bad-choice", "hi", { token, params: { tool_choice: "always" } });
    expect(malformed.end).toMatchObject({ type: "error", code: "bad_request", param: "tool_choice" });
    const agent = await client.chat("bad-agent", "hi", { token, params: { agent: "nope" } });
    expect(agent.end).toMatchObject({ type: "error", code: "bad_request", param: "agent" });
  });
});
