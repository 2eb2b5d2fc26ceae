// Per-subject limits over all gateways: one user flooding the node gets `overloaded`, another user is still queued and served.
import type { Socket } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { startTestNode, type TestNode } from "./helpers/test-node.js";
import { WsTestClient } from "./helpers/ws-test-client.js";

/** 10 MB of echo answer: a client that stops reading holds the only sequence with it (backpressure) until it cancels. */
const longMessage = Array.from({ length: 20_000 }, () => "z".repeat(499)).join(" ");

async function startNode(limits: Record<string, unknown>, maxQueue: number): Promise<TestNode> {
  return startTestNode({
    agent: { engine: "echo", parallel: 1, max_queue: maxQueue, context_size: 100_000 },
    websocket: { max_payload: 32 * 1024 * 1024, max_buffered: 64 * 1024, slow_client_timeout: 60 },
    limits,
  });
}

/** Takes the node's only sequence for `subject` with a request whose reader does not read; cancel it to free the sequence. */
async function holdTheSequence(node: TestNode, subject: string): Promise<WsTestClient> {
  const holder = await WsTestClient.connect(node.wsUrl, { token: await node.token(subject) });
  (holder.socket as unknown as { _socket: Socket })._socket.pause();
  holder.send({ type: "chat", id: "hold", message: longMessage, params: { max_tokens: 50_000 } });
  await until(() => node.daemon.engine.load().active === 1);
  return holder;
}

/** Alice sends two chats that wait behind the held sequence; resolves once both are queued. */
async function queueTwoForAlice(node: TestNode) {
  const alice = await WsTestClient.connect(node.wsUrl, { token: await node.token("alice") });
  const aliceQueued = [alice.result("a1"), alice.result("a2")];
  alice.send({ type: "chat", id: "a1", message: "one", params: { max_tokens: 4 } });
  alice.send({ type: "chat", id: "a2", message: "two", params: { max_tokens: 4 } });
  await until(() => node.daemon.engine.load().queued === 2);
  return { alice, aliceQueued };
}

describe("per-subject limits", () => {
  let node: TestNode | undefined;
  afterEach(async () => node?.close());

  it("gives one subject at most its share of the admission queue; another subject is still queued and served", async () => {
    // max_queue 4 × queue_share 0.5: each subject may have 2 requests waiting.
    node = await startNode({ queue_share_per_subject: 0.5 }, 4);
    const holder = await holdTheSequence(node, "alice");
    const { alice, aliceQueued } = await queueTwoForAlice(node);
    const refused = await alice.chat("a3", "three", { max_tokens: 4 });
    expect(refused.end).toMatchObject({ type: "error", code: "overloaded" });
    expect(String(refused.end.message)).toContain("per-user limit");

    const bob = await WsTestClient.connect(node.wsUrl, { token: await node.token("bob") });
    const bobAnswer = bob.result("b1");
    bob.send({ type: "chat", id: "b1", message: "bob asks", params: { max_tokens: 4 } });
    await until(() => node?.daemon.engine.load().queued === 3);

    holder.send({ type: "cancel", id: "hold" });
    expect((await bobAnswer).end).toMatchObject({ type: "finish", text: expect.stringContaining("bob asks") });
    for (const answer of aliceQueued) expect((await answer).end.type).toBe("finish");
    holder.socket.terminate();
    for (const client of [alice, bob]) client.close();
  });

  it("caps the requests one subject runs or queues at once, over WebSocket and HTTP together", async () => {
    node = await startNode({ max_requests_per_subject: 3, queue_share_per_subject: 1 }, 8);
    const holder = await holdTheSequence(node, "alice");
    const { alice, aliceQueued } = await queueTwoForAlice(node);

    const overWebsocket = await alice.chat("a3", "three", { max_tokens: 4 });
    expect(overWebsocket.end).toMatchObject({ type: "error", code: "overloaded", message: expect.stringContaining("per-user limit is 3") });
    const overHttp = await fetch(`${node.httpUrl}/v1/chat/completions`, {
      method: "POST",
      headers: { authorization: `Bearer ${await node.token("alice")}`, "content-type": "application/json" },
      body: JSON.stringify({ messages: [{ role: "user", content: "four" }], max_tokens: 4 }),
    });
    expect(overHttp.status).toBe(429);
    expect(await overHttp.json()).toMatchObject({ error: { code: "overloaded" } });

    // Another subject is still taken, and queued behind alice's.
    const bob = await WsTestClient.connect(node.wsUrl, { token: await node.token("bob") });
    const bobAnswer = bob.result("b1");
    bob.send({ type: "chat", id: "b1", message: "bob asks", params: { max_tokens: 4 } });
    await until(() => node?.daemon.engine.load().queued === 3);
    holder.send({ type: "cancel", id: "hold" });
    expect((await bobAnswer).end.type).toBe("finish");
    for (const answer of aliceQueued) expect((await answer).end.type).toBe("finish");
    // Once alice's requests ended, she may send again.
    expect(node.daemon.pipeline.subjectLimits.requests("alice")).toBe(0);
    expect((await alice.chat("a4", "again", { max_tokens: 4 })).end.type).toBe("finish");
    holder.socket.terminate();
    for (const client of [alice, bob]) client.close();
  });
});

async function until(condition: () => boolean, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error("timed out waiting for a condition");
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
