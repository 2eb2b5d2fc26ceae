// The built-in tools through the real ToolRunner: http_request against a local HTTP server, knowledge_search over a real knowledge base.
import fs from "node:fs";
import http from "node:http";
import type { AddressInfo } from "node:net";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { knowledgeSchema, toolsSchema } from "../src/config/schema.js";
import type { ToolCall } from "../src/core/types.js";
import { EchoEngine } from "../src/engine/echo/echo-engine.js";
import { ingest } from "../src/knowledge/ingest.js";
import { KnowledgeDatabase } from "../src/knowledge/knowledge-database.js";
import { engineEmbedder } from "../src/knowledge/knowledge-embedder.js";
import { openKnowledge, type KnowledgeService } from "../src/knowledge/knowledge-service.js";
import { TextSegmenter } from "../src/knowledge/text-segmenter.js";
import { silentLogger } from "../src/logging/logger.js";
import { builtinToolSource } from "../src/tools/builtin/builtin-tools.js";
import { httpRequestTool } from "../src/tools/builtin/http-request-tool.js";
import { knowledgeSearchTool } from "../src/tools/builtin/knowledge-search-tool.js";
import { ToolRunner, type ApproveCall } from "../src/tools/tool-runner.js";
import type { NodeTool, ToolRunContext } from "../src/tools/tool-types.js";

let callNumber = 0;
const call = (name: string, args: Record<string, unknown>): ToolCall => ({ id: `call_${(callNumber += 1)}`, name, arguments: JSON.stringify(args) });

function context(collections: readonly string[] | "*" = "*"): ToolRunContext {
  return {
    principal: { subject: "alice", roles: ["user"], scopes: [], claims: {} },
    requestId: "r1",
    gateway: "websocket",
    session: undefined,
    agent: "default",
    collections,
    signal: new AbortController().signal,
  };
}

const offer = (tool: NodeTool) => new Map([[tool.name, tool]]);

describe("http_request (a local HTTP server)", () => {
  let server: http.Server;
  let base: string;
  /** Every request the server received: method and path. */
  const received: string[] = [];
  /** Requests to /admin/slow whose connection the client closed. */
  let slowClosed = 0;
  let tool: NodeTool;
  const runner = new ToolRunner({ timeoutMs: 500, maxResultChars: 100_000 });

  beforeAll(async () => {
    server = http.createServer((request, response) => {
      received.push(`${request.method} ${request.url}`);
      const chunks: Buffer[] = [];
      request.on("data", (chunk: Buffer) => chunks.push(chunk));
      request.on("end", () => {
        switch (request.url) {
          case "/admin/hello":
            response.writeHead(200, { "content-type": "text/plain; charset=utf-8", "x-seen-header": String(request.headers["x-trace"] ?? "") });
            response.end(`hello ${String(request.headers["x-trace"] ?? "")}`);
            return;
          case "/admin/redirect":
            response.writeHead(302, { location: "http://outside.invalid/steal" });
            response.end("moved");
            return;
          case "/admin/big":
            response.writeHead(200, { "content-type": "text/plain" });
            response.end("界".repeat(3000) + "END");
            return;
          case "/admin/slow":
            response.on("close", () => (slowClosed += 1));
            response.writeHead(200, { "content-type": "text/plain" });
            response.write("partial");
            return;
          case "/write/echo":
            response.writeHead(201, { "content-type": "application/json" });
            response.end(JSON.stringify({ method: request.method, body: Buffer.concat(chunks).toString("utf8") }));
            return;
          default:
            response.writeHead(200, { "content-type": "text/plain" });
            response.end("SECRET PAGE");
        }
      });
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const config = toolsSchema.parse({
      http_request: {
        enabled: true,
        max_response_bytes: 1024,
        allow: [
          { prefix: `${base}/admin/`, methods: ["GET", "HEAD"] },
          { prefix: `${base}/write`, methods: ["GET", "POST"] },
        ],
      },
    }).http_request;
    tool = httpRequestTool(config) as NodeTool;
  });

  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  const run = (args: Record<string, unknown>, approve?: ApproveCall) => runner.run(call("http_request", args), offer(tool), context(), { approve });

  it("is off unless enabled with an allowed prefix", () => {
    expect(httpRequestTool(toolsSchema.parse({}).http_request)).toBeUndefined();
    expect(httpRequestTool(toolsSchema.parse({ http_request: { enabled: true } }).http_request)).toBeUndefined();
    expect(builtinToolSource({ tools: toolsSchema.parse({}), knowledge: knowledgeSchema.parse({}), retriever: undefined })).toBeUndefined();
    expect(tool.parameters).toMatchObject({ properties: { method: { enum: ["GET", "HEAD", "POST"] } } });
  });

  it("sends an allowed GET with its headers and returns the status, content type and body", async () => {
    const result = await run({ url: `${base}/admin/hello`, method: "GET", headers: { "X-Trace": "t-42" } });
    expect(result.outcome).toBe("ok");
    expect(result.content).toBe("status: 200\ncontent-type: text/plain; charset=utf-8\n\nhello t-42");
    expect(result.source).toBe("builtin");
    expect(received).toContain("GET /admin/hello");
  });

  it("refuses a URL outside the prefixes (/adminx is not under /admin/) without sending anything", async () => {
    for (const url of [`${base}/adminx`, `${base}/admin/../adminx`, `${base}/admin/%2e%2e/adminx`, `http://user@127.0.0.1:${new URL(base).port}/admin/hello`]) {
      const result = await run({ url, method: "GET" });
      expect(result.outcome, url).toBe("error");
    }
    expect((await run({ url: `${base}/adminx`, method: "GET" })).content).toMatch(/is not under an allowed URL prefix; the request was not sent/);
    expect(received.filter((line) => line.includes("adminx"))).toEqual([]);
  });

  it("refuses a method the prefix does not allow, and one allowed nowhere as invalid arguments", async () => {
    const post = await run({ url: `${base}/admin/hello`, method: "POST", body: "x" });
    expect(post.outcome).toBe("error");
    expect(post.content).toMatch(/the method POST is not allowed/);
    const remove = await run({ url: `${base}/admin/hello`, method: "DELETE" });
    expect(remove.outcome).toBe("invalid_arguments");
    expect(received.filter((line) => !line.startsWith("GET"))).toEqual([]);
  });

  it("reports a redirect with its Location and does not follow it", async () => {
    const result = await run({ url: `${base}/admin/redirect`, method: "GET" });
    expect(result.outcome).toBe("ok");
    expect(result.content).toContain("status: 302");
    expect(result.content).toContain("location: http://outside.invalid/steal (the redirect was not followed)");
    expect(received.filter((line) => line.includes("steal"))).toEqual([]);
  });

  it("cuts a big body at max_response_bytes (never inside a character) and says so", async () => {
    const result = await run({ url: `${base}/admin/big`, method: "GET" });
    expect(result.outcome).toBe("ok");
    expect(result.content).toContain("[the body is cut at 1024 bytes]");
    const body = result.content.split("\n\n")[1] as string;
    // 1024 bytes hold 341 three-byte characters; the split one is left out.
    expect(body).toBe("界".repeat(341));
    expect(body).not.toContain("END");
  });

  it("a HEAD answers the status without a body; a GET with a body or a Host header is refused", async () => {
    expect((await run({ url: `${base}/admin/hello`, method: "HEAD" })).content).toBe("status: 200\ncontent-type: text/plain; charset=utf-8\n\n");
    expect((await run({ url: `${base}/admin/hello`, method: "GET", body: "x" })).content).toMatch(/cannot have a body/);
    expect((await run({ url: `${base}/admin/hello`, method: "GET", headers: { Host: "other.example" } })).content).toMatch(/"Host" may not be set/);
  });

  it("a write needs the client's approval (confirm_writes); a read never asks", async () => {
    const asked: ToolCall[] = [];
    const approve = (answer: boolean): ApproveCall => async (asking) => {
      asked.push(asking);
      return answer;
    };
    const before = received.length;
    const denied = await run({ url: `${base}/write/echo`, method: "POST", body: "order 7" }, approve(false));
    expect(denied.outcome).toBe("denied");
    expect(received.length).toBe(before);
    const noChannel = await run({ url: `${base}/write/echo`, method: "POST", body: "order 7" });
    expect(noChannel.outcome).toBe("denied");
    const approved = await run({ url: `${base}/write/echo`, method: "POST", body: "order 7" }, approve(true));
    expect(approved.outcome).toBe("ok");
    expect(approved.content).toContain('{"method":"POST","body":"order 7"}');
    expect(asked).toHaveLength(2);
    await run({ url: `${base}/write/echo`, method: "GET" }, approve(false));
    expect(asked).toHaveLength(2);
    const noConfirm = httpRequestTool(toolsSchema.parse({ http_request: { enabled: true, confirm_writes: false, allow: [{ prefix: `${base}/write`, methods: ["POST"] }] } }).http_request) as NodeTool;
    expect(typeof noConfirm.confirm === "function" && noConfirm.confirm({ url: `${base}/write/echo`, method: "POST" })).toBe(false);
  });

  it("a slow server hits the tool timeout, and the request is aborted", async () => {
    const result = await run({ url: `${base}/admin/slow`, method: "GET" });
    expect(result.outcome).toBe("timeout");
    expect(result.content).toMatch(/did not answer within 0.5 s/);
    const deadline = Date.now() + 5000;
    while (slowClosed === 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
    expect(slowClosed).toBe(1);
  });
});

describe("knowledge_search (a knowledge base with the echo engine's embeddings)", () => {
  let service: KnowledgeService;
  let tool: NodeTool;
  const runner = new ToolRunner({ timeoutMs: 10_000, maxResultChars: 8000 });

  beforeAll(async () => {
    const directory = fs.mkdtempSync(path.join(os.tmpdir(), "clawbot-builtin-tools-"));
    const sources = path.join(directory, "sources");
    fs.mkdirSync(path.join(sources, "guidelines"), { recursive: true });
    const cases = [
      { id: "MR-0001", text: "Patient with zorblax syndrome was given 40 mg of quintaprine daily." },
      { id: "MR-0002", text: "Routine checkup: blood pressure normal, no medication." },
      { id: "MR-0003", text: "Zorblax relapse after two weeks; quintaprine raised to 60 mg." },
    ];
    fs.writeFileSync(path.join(sources, "cases.jsonl"), cases.map((record) => JSON.stringify(record)).join("\n") + "\n");
    fs.writeFileSync(path.join(sources, "guidelines", "zorblax.md"), "# Zorblax\n\nZorblax guideline: quintaprine at most 80 mg daily; check the liver.\n");
    const dataDir = path.join(directory, "data");
    fs.mkdirSync(dataDir, { mode: 0o700 });
    const engine = new EchoEngine({ parallel: 1, maxQueue: 4 });
    const database = KnowledgeDatabase.open(path.join(dataDir, "knowledge.db"), { segmenter: TextSegmenter.create() });
    try {
      const options = { chunk: { maxTokens: 256, overlapTokens: 32 }, embedder: engineEmbedder(engine) };
      await ingest(database, [path.join(sources, "cases.jsonl")], { collection: "cases", ...options });
      await ingest(database, [path.join(sources, "guidelines")], { collection: "guidelines", ...options });
    } finally {
      database.close();
    }
    const knowledge = knowledgeSchema.parse({ enabled: true, embed_with_engine: true, top_k: 5 });
    service = (await openKnowledge(knowledge, { dataDir, baseDir: directory, engine, logger: silentLogger, threads: 1 })) as KnowledgeService;
    await service.engineReady();
    expect(service.retriever.mode).toBe("hybrid");
    const source = builtinToolSource({ tools: toolsSchema.parse({ knowledge_search: { enabled: true } }), knowledge, retriever: service.retriever });
    tool = source?.tools().find((each) => each.name === "knowledge_search") as NodeTool;
  });

  afterAll(async () => {
    await service?.close();
  });

  const run = (args: Record<string, unknown>, collections: readonly string[] | "*" = "*") => runner.run(call("knowledge_search", args), offer(tool), context(collections));

  it("returns numbered chunks with doc_id, collection, source and text", async () => {
    const result = await run({ query: "zorblax quintaprine", top_k: 3 });
    expect(result.outcome).toBe("ok");
    expect([...result.content.matchAll(/^\[(\d+)\] doc_id: /gm)].map((match) => match[1])).toEqual(["1", "2", "3"]);
    expect(result.content).toMatch(/^\[\d\] doc_id: MR-0001 \| collection: cases \| source: \S*cases\.jsonl:1\nPatient with zorblax syndrome was given 40 mg of quintaprine daily\.$/m);
    expect(result.content).toMatch(/doc_id: \S*zorblax\.md \| collection: guidelines \| source: \S*zorblax\.md\n/);
    expect(result.content).not.toContain("Routine checkup");
  });

  it("searches only the named collection", async () => {
    const result = await run({ query: "zorblax quintaprine", collection: "guidelines" });
    expect(result.outcome).toBe("ok");
    expect(result.content).toContain("collection: guidelines");
    expect(result.content).not.toContain("collection: cases");
  });

  it("refuses a named collection the request may not read, and searches only readable ones otherwise", async () => {
    const refused = await run({ query: "zorblax", collection: "cases" }, ["guidelines"]);
    expect(refused.outcome).toBe("error");
    expect(refused.content).toBe('Error: the knowledge collection "cases" may not be read by this request.');
    const scoped = await run({ query: "zorblax quintaprine" }, ["guidelines"]);
    expect(scoped.content).toContain("collection: guidelines");
    expect(scoped.content).not.toContain("collection: cases");
    expect((await run({ query: "zorblax" }, [])).content).toMatch(/may not read any/);
  });

  it("keeps whole chunks within the result limit", async () => {
    const small = knowledgeSearchTool({ retriever: service.retriever, defaultTopK: 5, defaultCollections: undefined, maxChars: 200 });
    const result = await runner.run(call("knowledge_search", { query: "zorblax quintaprine" }), offer(small), context());
    expect(result.content.length).toBeLessThanOrEqual(200);
    expect(result.content).toMatch(/^\[1\] /);
    expect(result.content).not.toContain("[2] ");
  });

  it("checks its arguments: a query over 1000 characters or top_k over 20 does not run", async () => {
    expect((await run({ query: "z".repeat(1001) })).outcome).toBe("invalid_arguments");
    expect((await run({ query: "zorblax", top_k: 21 })).outcome).toBe("invalid_arguments");
    expect((await run({ query: "" })).outcome).toBe("invalid_arguments");
  });
});
