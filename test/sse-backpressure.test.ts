// An SSE client that stops reading holds its own generation, not the node's memory, and is cut off with slow_client.
import net from "node:net";
import OpenAI from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { HttpGateway } from "../src/gateways/http/http-gateway.js";
import { startTestNode, type TestNode } from "./helpers/test-node.js";

const maxBuffered = 64 * 1024;
/** One-letter echo tokens: each becomes a ~170-byte SSE chunk, so the whole answer (~20 MB) is far above what the kernel buffers. */
const answerTokens = 120_000;

describe("SSE backpressure", () => {
  let node: TestNode;

  beforeAll(async () => {
    node = await startTestNode({
      agent: { engine: "echo", parallel: 2, max_queue: 0, max_tokens: 200_000, context_size: 250_000 },
      http: { max_buffered: maxBuffered, slow_client_timeout: 1 },
    });
  });
  afterAll(async () => node?.close());

  it("pauses the generation of a client that does not read, keeps its buffer bounded, ends it with slow_client and serves others meanwhile", async () => {
    const gateway = node.daemon.gateways.find((candidate) => candidate.name.startsWith("http ")) as HttpGateway;
    const port = Number(new URL(node.httpUrl).port);
    const body = JSON.stringify({ model: "echo", stream: true, messages: [{ role: "user", content: "a ".repeat(answerTokens) }] });
    const slow = net.connect(port, "127.0.0.1");
    const received: Buffer[] = [];
    slow.on("data", (chunk: Buffer) => received.push(chunk));
    slow.pause();
    slow.write(
      `POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\nauthorization: Bearer ${await node.token("slow")}\r\n` +
        `content-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
    );
    await expect.poll(() => node.daemon.engine.load().active, { timeout: 10_000 }).toBe(1);

    // While the slow client holds its sequence, another client is served in full.
    let maxBufferedSeen = 0;
    const sampler = setInterval(() => (maxBufferedSeen = Math.max(maxBufferedSeen, gateway.connectionStats().bufferedBytes)), 5);
    const openai = new OpenAI({ baseURL: `${node.httpUrl}/v1`, apiKey: await node.token("normal"), maxRetries: 0 });
    const stream = await openai.chat.completions.create({ model: "echo", stream: true, messages: [{ role: "user", content: "a normal question" }] });
    let text = "";
    for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? "";
    expect(text).toBe("a normal question");

    // The slow request ends (slow_client) without the client having read anything.
    await expect.poll(() => node.daemon.engine.load().active, { timeout: 20_000 }).toBe(0);
    clearInterval(sampler);
    // Above the limit by at most one chunk and the stream's end; far below the ~20 MB answer.
    expect(maxBufferedSeen).toBeGreaterThan(0);
    expect(maxBufferedSeen).toBeLessThan(maxBuffered + 4096);

    // Reading now, the client gets what was sent and a final slow_client error event.
    slow.resume();
    const lastChunk = "\r\n0\r\n\r\n";
    await expect.poll(() => Buffer.concat(received).subarray(-lastChunk.length).toString("latin1"), { timeout: 10_000 }).toBe(lastChunk);
    slow.destroy();
    const all = Buffer.concat(received).toString("utf8");
    expect(all).toMatch(/^HTTP\/1\.1 200 /);
    expect(all).toMatch(/data: \{"error":\{"message":"The client did not read its answer[^\n]*"code":"slow_client"\}\}\n\n\r\n0\r\n\r\n$/);
    expect(all.length).toBeLessThan(answerTokens * 100);
  });
});
