// ChatClient against a small fake gateway (streaming, memory, cancel, bad tokens, error frames, lost connections) and
// against a real node with a plugin's tools (tool steps, approvals).
import path from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { startFakeChatServer, type FakeChatServer } from "../../test/helpers/fake-chat-server.js";
import { startTestNode, type TestNode } from "../../test/helpers/test-node.js";
import { ChatClient, ChatClientError, finishStats, type FinishFrame, type ToolFrame } from "./chat-client.js";
import { freePort } from "../../test/helpers/cli-process.js";

const token = "good-token";
let server: FakeChatServer;
const clients: ChatClient[] = [];

beforeAll(async () => {
  server = await startFakeChatServer({ token });
});

afterAll(async () => {
  await server.close();
});

afterEach(async () => {
  await Promise.all(clients.splice(0).map((client) => client.close()));
});

async function connected(options: { session?: string } = {}): Promise<ChatClient> {
  const client = new ChatClient(options);
  clients.push(client);
  await client.connect(server.url, token);
  return client;
}

async function rejection(promise: Promise<unknown>): Promise<ChatClientError> {
  const error = await promise.then(
    () => undefined,
    (reason: unknown) => reason,
  );
  expect(error).toBeInstanceOf(ChatClientError);
  return error as ChatClientError;
}

describe("ChatClient", () => {
  it("streams deltas that add up to the finish text", async () => {
    const client = await connected();
    const deltas: string[] = [];
    const finish = await client.ask("hello there friend", { max_tokens: 64, temperature: 0 }, (text) => deltas.push(text));
    expect(deltas.length).toBeGreaterThan(1);
    expect(deltas.join("")).toBe("you said: hello there friend");
    expect(finish).toMatchObject({ type: "finish", text: "you said: hello there friend", finish_reason: "stop" });
    expect(finish.usage.completion_tokens).toBe(deltas.length);
    const chat = server.frames.findLast((frame) => frame.type === "chat");
    expect(chat).toMatchObject({ message: "hello there friend", session: client.session, params: { max_tokens: 64, temperature: 0 } });
  });

  it("sends the same session with every chat, so the server remembers", async () => {
    const client = await connected({ session: "memory-test" });
    await client.ask("first");
    await client.ask("second");
    const finish = await client.ask("history");
    expect(finish.text).toBe("earlier: first, second");
    expect(new ChatClient().session).not.toBe(new ChatClient().session);
  });

  it("sends tool_choice and agent in params", async () => {
    const client = await connected();
    await client.ask("tools", { tool_choice: { type: "function", function: { name: "free_beds" } }, agent: "triage" });
    const chat = server.frames.findLast((frame) => frame.type === "chat");
    expect(chat).toMatchObject({ message: "tools", params: { tool_choice: { type: "function", function: { name: "free_beds" } }, agent: "triage" } });
  });

  it("leaves params out when none are set", async () => {
    const client = await connected();
    await client.ask("plain", { max_tokens: undefined });
    const chat = server.frames.findLast((frame) => frame.type === "chat");
    expect(chat).not.toHaveProperty("params");
  });

  it("cancels mid-stream: the answer finishes with finish_reason cancelled", async () => {
    const client = await connected();
    const deltas: string[] = [];
    const answer = client.ask("long", {}, (text) => {
      deltas.push(text);
      if (deltas.length === 3) client.cancel();
    });
    expect(client.busy).toBe(true);
    const finish = await answer;
    expect(finish.finish_reason).toBe("cancelled");
    expect(finish.text).toBe(deltas.join(""));
    expect(deltas.length).toBeLessThan(200);
    expect(client.busy).toBe(false);
    expect(server.frames.findLast((frame) => frame.type === "cancel")).toEqual({ type: "cancel", id: finish.id });
    // The connection stays usable after a cancel.
    expect((await client.ask("again")).text).toBe("you said: again");
  });

  it("on a restart frame drops the void text and tells onRestart; the finish holds only the new answer", async () => {
    const restarts: unknown[] = [];
    const client = new ChatClient({ onRestart: (frame) => restarts.push(frame) });
    clients.push(client);
    await client.connect(server.url, token);
    const deltas: string[] = [];
    const finish = await client.ask("restart", {}, (text) => deltas.push(text));
    expect(deltas.slice(0, 2)).toEqual(["lost", " words"]);
    expect(restarts).toEqual([{ type: "restart", id: finish.id, reason: "worker_lost", attempt: 2 }]);
    expect(finish.text).toBe("you said: restart");
    expect(deltas.slice(2).join("")).toBe("you said: restart");
  });

  it("rejects a bad token with a clear unauthorized error", async () => {
    const client = new ChatClient();
    clients.push(client);
    const error = await rejection(client.connect(server.url, "wrong-token"));
    expect(error.code).toBe("unauthorized");
    expect(error.message).toMatch(/rejected the token \(HTTP 401: Invalid token/);
    const ask = await rejection(client.ask("hi"));
    expect(ask.code).toBe("unauthorized");
  });

  it("rejects with the server's code on an error frame, and keeps working", async () => {
    const client = await connected();
    const error = await rejection(client.ask("fail"));
    expect(error.code).toBe("overloaded");
    expect(error.message).toBe("All sequences are busy; retry later.");
    expect((await client.ask("still here")).finish_reason).toBe("stop");
  });

  it("maps a 4401 close (no token, auth required) to unauthorized and reports the lost connection", async () => {
    const lost: ChatClientError[] = [];
    const client = new ChatClient({ onClose: (error) => lost.push(error) });
    clients.push(client);
    await client.connect(server.url);
    const error = await rejection(client.ask("hi"));
    expect(error.code).toBe("unauthorized");
    expect(error.message).toContain("4401");
    expect(lost.map((item) => item.code)).toEqual(["unauthorized"]);
  });

  it("rejects every pending answer when the connection is closed", async () => {
    const client = await connected();
    const answer = rejection(client.ask("long"));
    await client.close();
    expect((await answer).code).toBe("connection_closed");
  });

  it("reports connection refused in one line", async () => {
    const closedPort = await freePort();
    const client = new ChatClient({ connectTimeoutMs: 2000 });
    clients.push(client);
    const error = await rejection(client.connect(`ws://127.0.0.1:${closedPort}`, token));
    expect(error.code).toBe("connection_refused");
    expect(error.message).toBe(`Cannot connect to ws://127.0.0.1:${closedPort}: connection refused (is clawbot running?).`);
  });

  it("rejects an invalid URL", async () => {
    const error = await rejection(new ChatClient().connect("not a url"));
    expect(error.code).toBe("bad_request");
  });
});

describe("ChatClient with node tools (a real node, echo engine, the ward-tools plugin)", () => {
  let node: TestNode;

  beforeAll(async () => {
    node = await startTestNode({ agent: { engine: "echo" }, plugins: [{ path: path.resolve("test/fixtures/plugins/ward-tools-plugin.ts") }], tools: { approval_timeout: 30 } });
  });

  afterAll(async () => {
    await node?.close();
  });

  async function toolClient(options: { approve?: (frame: Extract<ToolFrame, { type: "tool-approval" }>) => Promise<boolean> } = {}): Promise<{ client: ChatClient; seen: ToolFrame[] }> {
    const seen: ToolFrame[] = [];
    const client = new ChatClient({ onTool: (frame) => seen.push(frame), ...options });
    clients.push(client);
    await client.connect(node.wsUrl, await node.token("alice"));
    return { client, seen };
  }

  it("tells onTool of the call, then of its result, before the answer", async () => {
    const { client, seen } = await toolClient();
    const finish = await client.ask('free_beds {"ward": "icu"}');
    expect(seen.map((frame) => frame.type)).toEqual(["tool-call", "tool-result"]);
    const [call, result] = seen as [Extract<ToolFrame, { type: "tool-call" }>, Extract<ToolFrame, { type: "tool-result" }>];
    expect(call.call).toMatchObject({ name: "free_beds", arguments: '{"ward":"icu"}' });
    expect(result).toMatchObject({ call_id: call.call.id, name: "free_beds", outcome: "ok", content: '{"ward":"icu","free":1}' });
    expect(finish).toMatchObject({ finish_reason: "stop" });
    expect(finish.text).toContain('{"ward":"icu","free":1}');
  });

  it("runs a call that needs approval when approve says yes", async () => {
    const asked: string[] = [];
    const { client, seen } = await toolClient({
      approve: async (frame) => {
        asked.push(frame.call.name);
        return true;
      },
    });
    const finish = await client.ask('page {"ward": "icu", "message": "bed 4"}', { tool_choice: { name: "page_doctor" } });
    expect(asked).toEqual(["page_doctor"]);
    expect(seen.map((frame) => frame.type)).toEqual(["tool-call", "tool-approval", "tool-result"]);
    expect(seen[2]).toMatchObject({ type: "tool-result", name: "page_doctor", outcome: "ok", content: "paged icu for alice: bed 4" });
    expect(finish.finish_reason).toBe("stop");
  });

  it("refuses a call that needs approval without approve, or when approve fails", async () => {
    for (const approve of [undefined, async () => Promise.reject(new Error("no terminal"))]) {
      const { client, seen } = await toolClient(approve ? { approve } : {});
      const finish = await client.ask('page {"ward": "icu", "message": "bed 5"}', { tool_choice: { type: "function", function: { name: "page_doctor" } } });
      const result = seen.find((frame) => frame.type === "tool-result");
      expect(result).toMatchObject({ name: "page_doctor", outcome: "denied" });
      expect((result as Extract<ToolFrame, { type: "tool-result" }>).content).not.toContain("paged");
      expect(finish.finish_reason).toBe("stop");
    }
  });
});

describe("finishStats", () => {
  const finish = (tokens: number, ttft: number, total: number): FinishFrame => ({
    type: "finish",
    id: "r1",
    text: "",
    finish_reason: "stop",
    usage: { prompt_tokens: 1, completion_tokens: tokens },
    timings: { queue_ms: 0, ttft_ms: ttft, total_ms: total },
  });

  it("measures speed after the first token", () => {
    expect(finishStats(finish(11, 100, 600))).toEqual({ tokens: 11, tokensPerSecond: 20, ttftMs: 100 });
  });

  it("has no speed without tokens", () => {
    expect(finishStats(finish(0, 0, 0)).tokensPerSecond).toBeUndefined();
  });
});
