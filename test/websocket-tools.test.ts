// Node-side tools over WebSocket (echo engine, the ward-tools plugin): tool_choice, the tool frames in order, the
// tool.approve flow of a `confirm: true` tool, the policy's tool grants, params.agent, and malformed values.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ToolCallRecord } from "../src/pipeline/request-observer.js";
import { issueToken } from "../src/security/jwt-issuer.js";
import { startTestNode, testSecret, type TestNode } from "./helpers/test-node.js";
import { WsTestClient, type Frame } from "./helpers/ws-test-client.js";

const wardTools = { path: path.resolve("test/fixtures/plugins/ward-tools-plugin.ts") };
/** Descriptions of the plugin's tools, as the catalog in the (echoed) prompt lists them. */
const freeBedsDescription = "How many beds are free on a ward.";
const pageDoctorDescription = "Pages the doctor on call for a ward";

const policy = ["roles:", '  user: {gateways: ["*"], tools: ["*"]}', "  nurse: {gateways: [websocket], tools: [free_beds]}", ""].join("\n");
const token = (subject: string, ...roles: string[]) => issueToken({ secret: testSecret, subject, roles, ttl: "1h" });

/** The frame types of one request, in order, with each run of text-deltas as one entry. */
function frameTypes(client: WsTestClient, id: string): string[] {
  const types = client.frames.filter((frame) => frame.id === id).map((frame) => frame.type);
  return types.filter((type, index) => !(type === "text-delta" && types[index - 1] === "text-delta"));
}

function callOf(frame: Frame): { id: string; name: string; arguments: string } {
  return frame.call as { id: string; name: string; arguments: string };
}

describe("tools over WebSocket (echo engine, ward-tools plugin, a policy)", () => {
  let node: TestNode;
  let client: WsTestClient;
  const toolCalls: ToolCallRecord[] = [];

  beforeAll(async () => {
    const directory = fs.mkdtempSync(path.join(os.tmpdir(), "clawbot-ws-tools-"));
    const policyFile = path.join(directory, "policy.yaml");
    fs.writeFileSync(policyFile, policy);
    node = await startTestNode({
      agent: { engine: "echo" },
      plugins: [wardTools],
      tools: { approval_timeout: 30 },
      security: { policy_file: policyFile },
      observe: { observers: [{ toolCalled: (_request, call) => void toolCalls.push(call) }] },
    });
    client = await WsTestClient.connect(node.wsUrl, { token: await token("alice", "user") });
  });

  afterAll(async () => {
    client?.close();
    await node?.close();
  });

  it("runs the tool tool_choice requires: tool-call, tool-result, then the answer that read the result, then finish", async () => {
    const { end, deltas } = await client.chat("beds", 'free_beds {"ward":"ward-1"}', { tool_choice: "required" });
    expect(frameTypes(client, "beds")).toEqual(["tool-call", "tool-result", "text-delta", "finish"]);
    const [call, result] = client.frames.filter((frame) => frame.id === "beds");
    expect(callOf(call as Frame)).toMatchObject({ name: "free_beds", arguments: '{"ward":"ward-1"}' });
    expect(result).toMatchObject({ type: "tool-result", call_id: callOf(call as Frame).id, name: "free_beds", outcome: "ok" });
    expect(JSON.parse(String((result as Frame).content))).toEqual({ ward: "ward-1", free: 3 });
    // The echo engine's second step echoes its prompt: the tool's result went back to the model.
    expect(end).toMatchObject({ type: "finish", finish_reason: "stop" });
    expect(deltas.join("")).toBe(end.text);
    expect(String(end.text)).toContain(String((result as Frame).content));
  });

  it("takes a named tool_choice in OpenAI's shape and in the {name} shorthand", async () => {
    for (const [id, choice] of [
      ["named", { type: "function", function: { name: "free_beds" } }],
      ["short", { name: "free_beds" }],
    ] as const) {
      const { end } = await client.chat(id, 'which ward? {"ward":"icu"}', { tool_choice: choice });
      expect(end.type).toBe("finish");
      const result = client.frames.find((frame) => frame.id === id && frame.type === "tool-result");
      expect(result).toMatchObject({ name: "free_beds", outcome: "ok", content: '{"ward":"icu","free":1}' });
    }
  });

  it("does not call with tool_choice none, and calls with auto only when the message names the tool", async () => {
    await client.chat("none", 'free_beds {"ward":"icu"}', { tool_choice: "none" });
    expect(frameTypes(client, "none")).toEqual(["text-delta", "finish"]);
    await client.chat("auto", 'free_beds {"ward":"icu"}');
    expect(frameTypes(client, "auto")).toEqual(["tool-call", "tool-result", "text-delta", "finish"]);
  });

  it("asks before a confirm tool runs: tool.approve approved runs it", async () => {
    const approval = client.next((frame) => frame.id === "page-yes" && frame.type === "tool-approval");
    const done = client.result("page-yes");
    client.send({ type: "chat", id: "page-yes", message: 'page {"ward":"icu","message":"bed 4"}', params: { tool_choice: { name: "page_doctor" } } });
    const asked = await approval;
    expect(asked).toMatchObject({ timeout_ms: 30_000, call: { name: "page_doctor", arguments: '{"ward":"icu","message":"bed 4"}' } });
    client.send({ type: "tool.approve", id: "page-yes", call_id: callOf(asked).id, approved: true });
    const { end } = await done;
    expect(end.type).toBe("finish");
    expect(frameTypes(client, "page-yes")).toEqual(["tool-call", "tool-approval", "tool-result", "text-delta", "finish"]);
    expect(client.frames.find((frame) => frame.id === "page-yes" && frame.type === "tool-result")).toMatchObject({
      call_id: callOf(asked).id,
      outcome: "ok",
      content: "paged icu for alice: bed 4",
    });
    // Answering again: the call no longer waits.
    const refused = client.next((frame) => frame.type === "error");
    client.send({ type: "tool.approve", id: "page-yes", call_id: callOf(asked).id, approved: true });
    expect(await refused).toMatchObject({ id: null, code: "not_found" });
  });

  it("denies a confirm tool the client refuses: outcome denied, the tool never ran", async () => {
    const approval = client.next((frame) => frame.id === "page-no" && frame.type === "tool-approval");
    const done = client.result("page-no");
    client.send({ type: "chat", id: "page-no", message: 'page {"ward":"ward-2","message":"nope"}', params: { tool_choice: { name: "page_doctor" } } });
    const asked = await approval;
    client.send({ type: "tool.approve", id: "page-no", call_id: callOf(asked).id, approved: false });
    const { end } = await done;
    expect(end.type).toBe("finish");
    const result = client.frames.find((frame) => frame.id === "page-no" && frame.type === "tool-result");
    expect(result).toMatchObject({ call_id: callOf(asked).id, outcome: "denied" });
    expect(String(result?.content)).not.toContain("paged");
    expect(toolCalls.find((record) => record.callId === callOf(asked).id)).toMatchObject({ tool: "page_doctor", outcome: "denied" });
  });

  it("answers a tool.approve that matches no waiting call with an error frame (id null) and keeps the request and the connection", async () => {
    const approval = client.next((frame) => frame.id === "page-wrong" && frame.type === "tool-approval");
    const done = client.result("page-wrong");
    client.send({ type: "chat", id: "page-wrong", message: 'page {"ward":"icu","message":"x"}', params: { tool_choice: { name: "page_doctor" } } });
    const asked = await approval;
    const wrongCall = client.next((frame) => frame.type === "error");
    client.send({ type: "tool.approve", id: "page-wrong", call_id: "call_not_this_one", approved: true });
    expect(await wrongCall).toMatchObject({ type: "error", id: null, code: "not_found", param: "call_id" });
    const wrongRequest = client.next((frame) => frame.type === "error");
    client.send({ type: "tool.approve", id: "no-such-request", call_id: callOf(asked).id, approved: true });
    expect(await wrongRequest).toMatchObject({ type: "error", id: null, code: "not_found", param: "id" });
    const malformed = client.next((frame) => frame.type === "error");
    client.send({ type: "tool.approve", id: "page-wrong", call_id: callOf(asked).id, approved: "yes" });
    expect(await malformed).toMatchObject({ type: "error", id: null, code: "bad_request", param: "approved" });
    // The request still waits, and the right answer still reaches it.
    client.send({ type: "tool.approve", id: "page-wrong", call_id: callOf(asked).id, approved: true });
    const { end } = await done;
    expect(end.type).toBe("finish");
    expect(client.frames.find((frame) => frame.id === "page-wrong" && frame.type === "tool-result")).toMatchObject({ outcome: "ok" });
  });

  it("denies the waiting call of a client that disconnects, and serves the next client", async () => {
    const leaving = await WsTestClient.connect(node.wsUrl, { token: await token("bob", "user") });
    const approval = leaving.next((frame) => frame.id === "gone" && frame.type === "tool-approval");
    leaving.send({ type: "chat", id: "gone", message: 'page {"ward":"icu","message":"left"}', params: { tool_choice: { name: "page_doctor" } } });
    const asked = await approval;
    leaving.socket.terminate();
    await leaving.closed;
    await until(() => toolCalls.some((record) => record.callId === callOf(asked).id));
    expect(toolCalls.find((record) => record.callId === callOf(asked).id)).toMatchObject({ tool: "page_doctor", outcome: "denied" });
    const { end } = await client.chat("after-gone", 'free_beds {"ward":"icu"}', { tool_choice: "required" });
    expect(end.type).toBe("finish");
  });

  it("refuses a tool the role may not use when tool_choice names it, and does not even list it otherwise", async () => {
    const nurse = await WsTestClient.connect(node.wsUrl, { token: await token("nina", "nurse") });
    try {
      const named = await nurse.chat("named", 'page {"ward":"icu","message":"x"}', { tool_choice: { type: "function", function: { name: "page_doctor" } } });
      expect(named.end).toMatchObject({ type: "error", code: "forbidden", param: "tool_choice" });
      expect(nurse.frames.filter((frame) => frame.id === "named").map((frame) => frame.type)).toEqual(["error"]);
      // auto, the message naming it: no call, and the catalog in the echoed prompt lists only free_beds.
      const auto = await nurse.chat("auto", "please page_doctor now");
      expect(frameTypes(nurse, "auto")).toEqual(["text-delta", "finish"]);
      expect(String(auto.end.text)).toContain(freeBedsDescription);
      expect(String(auto.end.text)).not.toContain(pageDoctorDescription);
      const allowed = await nurse.chat("allowed", 'free_beds {"ward":"ward-2"}', { tool_choice: "required" });
      expect(allowed.end.type).toBe("finish");
      expect(nurse.frames.find((frame) => frame.id === "allowed" && frame.type === "tool-result")).toMatchObject({ outcome: "ok", content: '{"ward":"ward-2","free":0}' });
    } finally {
      nurse.close();
    }
  });

  it("runs as the agent params.agent names, and refuses an unknown one with bad_request", async () => {
    const known = await client.chat("agent-default", 'free_beds {"ward":"icu"}', { agent: "default", tool_choice: "required" });
    expect(known.end.type).toBe("finish");
    const unknown = await client.chat("agent-nope", "hello", { agent: "nope" });
    expect(unknown.end).toMatchObject({ type: "error", code: "bad_request", param: "agent" });
    expect(String(unknown.end.message)).toContain("nope");
    for (const [id, agent] of [["agent-empty", ""], ["agent-number", 7]] as const) {
      const { end } = await client.chat(id, "hello", { agent });
      expect(end).toMatchObject({ type: "error", id, code: "bad_request", param: "agent" });
    }
  });

  it("refuses a malformed tool_choice, and one naming no offered tool, with bad_request and param tool_choice", async () => {
    const malformed: unknown[] = ["sometimes", "", 5, null, [], {}, { type: "function" }, { type: "function", function: {} }, { name: "" }, { name: "two words" }, { name: "free_beds", extra: 1 }, { type: "tool", function: { name: "free_beds" } }];
    for (const [index, choice] of malformed.entries()) {
      const { end } = await client.chat(`bad-choice-${index}`, "hello", { tool_choice: choice });
      expect(end, JSON.stringify(choice)).toMatchObject({ type: "error", id: `bad-choice-${index}`, code: "bad_request", param: "tool_choice" });
      expect(String(end.message)).toContain("tool_choice");
    }
    const { end } = await client.chat("no-such-tool", "hello", { tool_choice: { name: "no_such_tool" } });
    expect(end).toMatchObject({ type: "error", code: "bad_request", param: "tool_choice" });
    expect(String(end.message)).toContain("no_such_tool");
  });
});

describe("a confirm tool nobody answers (tools.approval_timeout 0.3)", () => {
  let node: TestNode;
  let client: WsTestClient;

  beforeAll(async () => {
    node = await startTestNode({ agent: { engine: "echo" }, plugins: [wardTools], tools: { approval_timeout: 0.3 } });
    client = await WsTestClient.connect(node.wsUrl, { token: await node.token() });
  });

  afterAll(async () => {
    client?.close();
    await node?.close();
  });

  it("is denied once the approval times out, and a late tool.approve is refused", async () => {
    const approval = client.next((frame) => frame.id === "late" && frame.type === "tool-approval");
    const { end } = await client.chat("late", 'page {"ward":"icu","message":"x"}', { tool_choice: { name: "page_doctor" } });
    const asked = await approval;
    expect(asked.timeout_ms).toBe(300);
    expect(end.type).toBe("finish");
    expect(frameTypes(client, "late")).toEqual(["tool-call", "tool-approval", "tool-result", "text-delta", "finish"]);
    const result = client.frames.find((frame) => frame.id === "late" && frame.type === "tool-result");
    expect(result).toMatchObject({ outcome: "denied" });
    expect(String(result?.content)).not.toContain("paged");
    const refused = client.next((frame) => frame.type === "error");
    client.send({ type: "tool.approve", id: "late", call_id: callOf(asked).id, approved: true });
    expect(await refused).toMatchObject({ id: null, code: "not_found" });
  });
});

async function until(condition: () => boolean): Promise<void> {
  const deadline = Date.now() + 15_000;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error("timed out waiting for a condition");
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
