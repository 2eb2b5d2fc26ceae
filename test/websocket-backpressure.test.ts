// A WebSocket client that stops reading: its answer pauses at max_buffered, fails with slow_client, and nobody else slows down.
import type { Socket } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { WebsocketGateway } from "../src/gateways/websocket/websocket-gateway.js";
import { startTestNode, type TestNode } from "./helpers/test-node.js";
import { WsTestClient } from "./helpers/ws-test-client.js";

const maxBuffered = 64 * 1024;
/** One echo "token" per word: 20,000 words of 500 bytes make a 10 MB answer, far more than the kernel's socket buffers hold. */
const wordCount = 20_000;
const word = "x".repeat(499);

describe("websocket backpressure", () => {
  let node: TestNode;
  let gateway: WebsocketGateway;

  beforeAll(async () => {
    node = await startTestNode({
      agent: { engine: "echo", context_size: wordCount * 4 },
      websocket: { max_buffered: maxBuffered, slow_client_timeout: 1, max_payload: 32 * 1024 * 1024 },
    });
    gateway = node.daemon.gateways.find((candidate): candidate is WebsocketGateway => candidate instanceof WebsocketGateway) as WebsocketGateway;
  });
  afterAll(async () => node?.close());

  it("holds a reader that stops reading at max_buffered, ends its request with slow_client, closes 4408, and serves others meanwhile", async () => {
    const slow = await WsTestClient.connect(node.wsUrl, { token: await node.token("slow-reader") });
    const rawSocket = (slow.socket as unknown as { _socket: Socket })._socket;
    rawSocket.pause();
    const message = Array.from({ length: wordCount }, () => word).join(" ");
    slow.send({ type: "chat", id: "big", message, params: { max_tokens: wordCount * 2 } });

    // While the slow reader is stuck, another client is answered, and the node's buffer for the slow one stays bounded.
    const fast = await WsTestClient.connect(node.wsUrl, { token: await node.token("fast-reader") });
    let maxSeen = 0;
    const started = Date.now();
    while (node.daemon.pipeline.subjectLimits.requests("slow-reader") === 0 && Date.now() - started < 10_000) await pause(5);
    expect(node.daemon.pipeline.subjectLimits.requests("slow-reader")).toBe(1);
    let served = 0;
    while (node.daemon.pipeline.subjectLimits.requests("slow-reader") > 0) {
      maxSeen = Math.max(maxSeen, gateway.connectionStats().bufferedBytes);
      const { end } = await fast.chat(`fast-${served}`, "hello there, how are you", { max_tokens: 8 });
      expect(end).toMatchObject({ type: "finish" });
      served += 1;
    }
    expect(served).toBeGreaterThan(0);
    // One frame may go over the limit: the write that crosses it.
    expect(maxSeen).toBeLessThanOrEqual(maxBuffered + 2 * word.length);

    // Reading again, the client gets the answer so far, the slow_client error for that request, and the 4408 close.
    rawSocket.resume();
    const { deltas, end } = await slow.result("big");
    expect(end).toMatchObject({ type: "error", code: "slow_client" });
    expect(deltas.join("").length).toBeLessThan(message.length);
    expect((await slow.closed).code).toBe(4408);
    fast.close();
  });

  it("drops a client that never answers the close handshake at shutdown instead of waiting for it", async () => {
    const own = await startTestNode({ agent: { engine: "echo" }, shutdownGrace: 0 });
    const stuck = await WsTestClient.connect(own.wsUrl, { token: await own.token() });
    (stuck.socket as unknown as { _socket: Socket })._socket.pause();
    const closing = own.close();
    // ws would keep the socket (and the port) for its 30 s close timer; the gateway terminates it after a short grace.
    const outcome = await Promise.race([closing.then(() => "closed"), pause(15_000).then(() => "still open")]);
    expect(outcome).toBe("closed");
    stuck.close();
  });
});

function pause(milliseconds: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, milliseconds));
}
