// What clients see of a cluster, without one: a generation restarted on another worker (a worker lost) at every client —
// WebSocket frames, the stored session, OpenAI streams (official `openai` client) and answers, `ChatClient` — and the
// `cluster` block of /readyz. The node's engine is wrapped to play what a remote engine yields across a lost worker, and
// its HTTP gateway is given a cluster status, so no NATS is needed (the real cluster is tested in test/cluster/).
import OpenAI from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ChatClient, type RestartFrame } from "../src/cli/chat-client.js";
import type { EnginePart, EngineRequest, LanguageModel } from "../src/engine/language-model.js";
import type { ClusterReadiness, GatewayContext } from "../src/gateways/gateway.js";
import { startTestNode, type TestNode } from "./helpers/test-node.js";
import { WsTestClient } from "./helpers/ws-test-client.js";

/** What the client must end up with: only the text after the restart. */
const newText = "The complete new answer.";

/** Parts for a turn that asks for a restart: void text, the restart, the complete new text, a finish. */
function restartedGeneration(): EnginePart[] {
  return [
    { type: "text-delta", text: "Half an " },
    { type: "text-delta", text: "answ" },
    { type: "restart", reason: "worker_lost", attempt: 2 },
    ...newText.split(/(?<= )/).map((text): EnginePart => ({ type: "text-delta", text })),
    { type: "finish", text: newText, finishReason: "stop", usage: { promptTokens: 4, completionTokens: 5 }, timings: { queueMs: 0, ttftMs: 1, totalMs: 2 } },
  ];
}

let node: TestNode;
let openai: OpenAI;

beforeAll(async () => {
  node = await startTestNode({ agent: { engine: "echo" } });
  // Turns whose last text says "restart" play a restarted generation; the rest go to the echo engine.
  const engine = node.daemon.engine as LanguageModel;
  const echo = engine.stream.bind(engine);
  engine.stream = async function* (request: EngineRequest, options?: { signal?: AbortSignal }) {
    const last = request.prompt ?? String(request.messages.at(-1)?.content ?? "");
    if (last.includes("restart")) yield* restartedGeneration();
    else yield* echo(request, options);
  };
  openai = new OpenAI({ baseURL: `${node.httpUrl}/v1`, apiKey: await node.token(), maxRetries: 0 });
});

afterAll(async () => {
  await node?.close();
});

describe("a restarted generation at the clients", () => {
  it("WebSocket: text, then restart, then the new text, and a finish whose text is only the new text; the session stores only it", async () => {
    const client = await WsTestClient.connect(node.wsUrl, { token: await node.token() });
    try {
      const { end } = await client.chat("r1", "please restart", {}, "restart-session");
      const frames = client.frames.filter((frame) => frame.id === "r1");
      const restartAt = frames.findIndex((frame) => frame.type === "restart");
      expect(frames[restartAt]).toEqual({ type: "restart", id: "r1", reason: "worker_lost", attempt: 2 });
      const textOf = (list: typeof frames) => list.filter((frame) => frame.type === "text-delta").map((frame) => frame.text).join("");
      expect(textOf(frames.slice(0, restartAt))).toBe("Half an answ");
      expect(textOf(frames.slice(restartAt))).toBe(newText);
      expect(end).toMatchObject({ type: "finish", text: newText, finish_reason: "stop" });
      expect(node.daemon.sessions.history("alice", "restart-session")).toEqual([
        { role: "user", content: "please restart" },
        { role: "assistant", content: newText },
      ]);
    } finally {
      client.close();
    }
  });

  it("OpenAI stream: one chunk with an empty delta and clawbot_restart; the official client reads on", async () => {
    const stream = await openai.chat.completions.create({ model: "echo", stream: true, messages: [{ role: "user", content: "restart please" }] });
    const chunks: OpenAI.ChatCompletionChunk[] = [];
    for await (const chunk of stream) chunks.push(chunk);
    const restartAt = chunks.findIndex((chunk) => "clawbot_restart" in chunk);
    expect(restartAt).toBeGreaterThan(0);
    const marker = chunks[restartAt] as OpenAI.ChatCompletionChunk & { clawbot_restart: unknown };
    expect(marker.clawbot_restart).toEqual({ reason: "worker_lost", attempt: 2 });
    expect(marker.choices).toEqual([{ index: 0, delta: { content: "" }, logprobs: null, finish_reason: null }]);
    const content = (list: OpenAI.ChatCompletionChunk[]) => list.map((chunk) => chunk.choices[0]?.delta.content ?? "").join("");
    // A client that knows the extension drops what came before the marker.
    expect(content(chunks.slice(0, restartAt))).toBe("Half an answ");
    expect(content(chunks.slice(restartAt))).toBe(newText);
    expect(chunks.at(-1)?.choices[0]?.finish_reason).toBe("stop");
  });

  it("OpenAI stream helper: does not break on the extra chunk (it cannot take back sent text)", async () => {
    const runner = openai.chat.completions.stream({ model: "echo", messages: [{ role: "user", content: "restart again" }] });
    const message = await runner.finalMessage();
    expect(message.content).toBe(`Half an answ${newText}`);
  });

  it("OpenAI answer (not streamed): only the new text", async () => {
    const answer = await openai.chat.completions.create({ model: "echo", messages: [{ role: "user", content: "restart once more" }] });
    expect(answer.choices[0]?.message.content).toBe(newText);
    expect(answer.choices[0]?.finish_reason).toBe("stop");
  });

  it("legacy completions stream: the marker chunk has empty text", async () => {
    const stream = await openai.completions.create({ model: "echo", prompt: "restart the completion", stream: true });
    const chunks: OpenAI.Completion[] = [];
    for await (const chunk of stream) chunks.push(chunk);
    const restartAt = chunks.findIndex((chunk) => "clawbot_restart" in chunk);
    expect(chunks[restartAt]?.choices).toEqual([{ text: "", index: 0, logprobs: null, finish_reason: null }]);
    expect(chunks.slice(restartAt).map((chunk) => chunk.choices[0]?.text ?? "").join("")).toBe(newText);
  });

  it("ChatClient: onRestart, and a finish with only the new text", async () => {
    const restarts: RestartFrame[] = [];
    const client = new ChatClient({ onRestart: (frame) => restarts.push(frame) });
    await client.connect(node.wsUrl, await node.token());
    try {
      const deltas: string[] = [];
      const finish = await client.ask("restart in chat", {}, (text) => deltas.push(text));
      expect(restarts).toEqual([{ type: "restart", id: finish.id, reason: "worker_lost", attempt: 2 }]);
      expect(finish.text).toBe(newText);
      expect(deltas.join("")).toBe(`Half an answ${newText}`);
    } finally {
      await client.close();
    }
  });

  it("leaves answers without a restart as they were", async () => {
    const client = await WsTestClient.connect(node.wsUrl, { token: await node.token() });
    try {
      const { deltas, end } = await client.chat("r2", "hello there");
      expect(client.frames.some((frame) => frame.type === "restart")).toBe(false);
      expect(end).toMatchObject({ type: "finish", text: deltas.join("") });
    } finally {
      client.close();
    }
  });
});

describe("/readyz in a cluster", () => {
  /** The HTTP gateway's context, to give it what the daemon gives it in cluster mode. */
  function httpContext(): GatewayContext {
    const gateway = node.daemon.gateways.find((each) => each.status().type === "http");
    return (gateway as unknown as { context: GatewayContext }).context;
  }

  async function readyz(cluster: ClusterReadiness, ready: boolean): Promise<{ status: number; body: Record<string, unknown> }> {
    const context = httpContext();
    const isReady = context.isReady;
    context.clusterStatus = () => cluster;
    context.isReady = () => ready;
    try {
      const response = await fetch(`${node.httpUrl}/readyz`);
      return { status: response.status, body: (await response.json()) as Record<string, unknown> };
    } finally {
      delete context.clusterStatus;
      context.isReady = isReady;
    }
  }

  const status: ClusterReadiness = { name: "ward-3", nodeId: "box-a", connected: true, primary: true, leader: "box-a", alive: [{}, {}, {}] };

  it("adds the cluster block to a ready answer", async () => {
    const { status: code, body } = await readyz(status, true);
    expect(code).toBe(200);
    expect(body.status).toBe("ready");
    expect(body.cluster).toEqual({ name: "ward-3", node_id: "box-a", connected: true, primary: true, leader: "box-a", nodes_alive: 3 });
  });

  it("answers 503 unavailable with the cluster block when NATS is away or no worker lives", async () => {
    const { status: code, body } = await readyz({ ...status, connected: false, primary: false, leader: undefined, alive: [] }, false);
    expect(code).toBe(503);
    expect(body).toEqual({ status: "unavailable", cluster: { name: "ward-3", node_id: "box-a", connected: false, primary: false, leader: null, nodes_alive: 0 } });
  });

  it("has no cluster block when the node runs alone", async () => {
    const response = await fetch(`${node.httpUrl}/readyz`);
    expect(response.status).toBe(200);
    expect(await response.json()).not.toHaveProperty("cluster");
  });
});
