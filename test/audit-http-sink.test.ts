// Audit records POSTed in batches to a node:http receiver: headers, batch size, and a timeout, a 503 and a 400 before it recovers, with nothing lost.
import http from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { AuditSinkStatus } from "../src/audit/audit-record.js";
import { startTestNode, type TestNode } from "./helpers/test-node.js";

interface Post {
  headers: http.IncomingHttpHeaders;
  body: { records: Record<string, unknown>[]; checkpoint?: Record<string, unknown> };
  /** How the receiver answered it. */
  answer: "hang" | 503 | 400 | 200;
}

async function until(condition: () => boolean, what: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe("http audit sink", () => {
  const posts: Post[] = [];
  /** Until set, the receiver refuses: the first POST hangs (past the sink's timeout), the second gets 503, the rest 400. */
  let healthy = false;
  let server: http.Server;
  let node: TestNode;

  const sink = (): AuditSinkStatus => {
    const found = node.daemon.audit?.status().sinks[0];
    if (!found) throw new Error("no sink");
    return found;
  };

  beforeAll(async () => {
    server = http.createServer((request, response) => {
      let text = "";
      request.setEncoding("utf8");
      request.on("data", (chunk: string) => (text += chunk));
      request.on("end", () => {
        const answer: Post["answer"] = healthy ? 200 : posts.length === 0 ? "hang" : posts.length === 1 ? 503 : 400;
        posts.push({ headers: request.headers, body: JSON.parse(text) as Post["body"], answer });
        if (answer === "hang") return;
        response.writeHead(answer, { "content-type": "application/json" }).end(answer === 200 ? "{}" : JSON.stringify({ error: `refused with ${answer}` }));
      });
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const { port } = server.address() as { port: number };
    node = await startTestNode({
      agent: { engine: "echo" },
      audit: {
        sinks: [{ type: "http", name: "siem", url: `http://127.0.0.1:${port}/ingest`, headers: { authorization: "Bearer siem-token", "x-tenant": "ward-7" }, batch_size: 4, timeout: 0.5 }],
      },
    });
  });

  afterAll(async () => {
    await node?.close();
    server?.closeAllConnections();
    await new Promise((resolve) => server?.close(resolve));
  });

  it("retries through a timeout, a 503 and a 400 without skipping a record, then ships the backlog in order in batches", async () => {
    for (let index = 0; index < 10; index++) {
      const response = await fetch(`${node.httpUrl}/v1/chat/completions`, {
        method: "POST",
        headers: { authorization: `Bearer ${await node.token()}`, "content-type": "application/json" },
        body: JSON.stringify({ model: "echo", messages: [{ role: "user", content: `question ${index}` }], max_tokens: 8 }),
      });
      // The sink being down never holds up an answer.
      expect(response.status).toBe(200);
      await response.text();
    }
    await until(() => sink().failures >= 3, "three refused attempts");
    expect(sink()).toMatchObject({ name: "siem", type: "http", up: false, cursor: 0, backlog: 11 });
    expect(sink().lastError).toMatch(/refused the batch with 400/);
    expect(posts.slice(0, 3).map((post) => post.answer)).toEqual(["hang", 503, 400]);

    healthy = true;
    await until(() => sink().cursor === 11, "the backlog to ship");
    expect(sink()).toMatchObject({ up: true, backlog: 0, shipped: 11 });
    const accepted = posts.filter((post) => post.answer === 200);
    expect(accepted.map((post) => post.body.records.length)).toEqual([4, 4, 3]);
    const shipped = accepted.flatMap((post) => post.body.records);
    expect(shipped.map((record) => record.sequence)).toEqual(Array.from({ length: 11 }, (_, index) => index + 1));
    const ledger = node.daemon.audit?.source.after(0, 100) ?? [];
    expect(shipped.map((record) => record.hash)).toEqual(ledger.map((record) => record.hash));
    expect(shipped[0]).toMatchObject({ sequence: 1, kind: "start", node_id: expect.any(String), recorded_at: expect.stringMatching(/^\d{4}-\d\d-\d\dT.*Z$/) });
    expect(shipped[10]).toMatchObject({ kind: "request", body: expect.objectContaining({ input: "question 9" }) });
    for (const post of posts) {
      expect(post.headers).toMatchObject({ authorization: "Bearer siem-token", "x-tenant": "ward-7", "content-type": "application/json" });
    }
    // Every refused batch started at the first unshipped record: nothing was skipped while it was down.
    for (const post of posts.filter((item) => item.answer !== 200)) expect(post.body.records[0]?.sequence).toBe(1);
  });

  it("sends the checkpoint the node writes on close, after the records it pins", async () => {
    const before = posts.length;
    const head = node.daemon.audit?.source.head();
    await node.close();
    const after = posts.slice(before);
    const checkpoint = after.find((post) => post.body.checkpoint)?.body.checkpoint;
    expect(checkpoint).toMatchObject({ kind: "checkpoint", sequence: expect.any(Number), hash: expect.stringMatching(/^[0-9a-f]{64}$/) });
    expect(checkpoint?.sequence as number).toBeGreaterThanOrEqual(head?.sequence ?? 0);
    // The stop record went out before the checkpoint that pins it.
    const records = after.flatMap((post) => post.body.records);
    expect(records.map((record) => record.kind)).toContain("stop");
  });
});
