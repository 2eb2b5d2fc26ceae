// The HTTP port's route table on fastify: 404 and 405 per route, HEAD, body limit, content type, bad JSON, parser errors — all coded.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { isErrorCode } from "../src/core/errors.js";
import { buildRequest, rawRequest, type RawResponse } from "./helpers/raw-http.js";
import { startTestNode, type TestNode } from "./helpers/test-node.js";

const maxBody = 4096;

describe("http routing on fastify", () => {
  let node: TestNode;
  let port: number;
  let token: string;

  beforeAll(async () => {
    node = await startTestNode({ agent: { engine: "echo" }, http: { max_body: maxBody } });
    port = Number(new URL(node.httpUrl).port);
    token = await node.token();
  });
  afterAll(async () => node?.close());

  /** Sends raw bytes; expects a response with this status whose body is our coded error in OpenAI's shape (never fastify's). */
  async function expectError(bytes: Buffer | string, status: number, code: string, options: { head?: boolean; param?: string } = {}): Promise<RawResponse> {
    const result = await rawRequest(port, bytes, options);
    expect(result.kind, JSON.stringify(result)).toBe("response");
    const response = result as RawResponse;
    expect(response.status).toBe(status);
    expect(response.headers["content-type"]).toBe("application/json");
    if (options.head) return response;
    const body = JSON.parse(response.body.toString("utf8")) as Record<string, unknown>;
    expect(Object.keys(body)).toEqual(["error"]);
    expect(body.error).toMatchObject({ code, message: expect.any(String), type: expect.any(String), param: options.param ?? null });
    expect(isErrorCode(code)).toBe(true);
    return response;
  }

  const chat = (headers: [string, string][], body?: Buffer | string) =>
    buildRequest("POST", "/v1/chat/completions", [["authorization", `Bearer ${token}`], ...headers], body);
  const json = (content: string) => JSON.stringify({ messages: [{ role: "user", content }] });

  it("answers 404 not_found for unknown paths and 405 method_not_allowed with Allow for known ones", async () => {
    await expectError(buildRequest("GET", "/v1/audio/speech", []), 404, "not_found");
    await expectError(buildRequest("POST", "/nowhere", [["content-type", "application/json"]], "{}"), 404, "not_found");
    const getChat = await expectError(buildRequest("GET", "/v1/chat/completions", []), 405, "method_not_allowed");
    expect(getChat.headers.allow).toBe("POST");
    for (const path of ["/v1/completions", "/v1/embeddings"]) expect((await expectError(buildRequest("GET", path, []), 405, "method_not_allowed")).headers.allow).toBe("POST");
    const deleteHealth = await expectError(buildRequest("DELETE", "/healthz", []), 405, "method_not_allowed");
    expect(deleteHealth.headers.allow).toBe("GET, HEAD");
    const putModels = await expectError(buildRequest("PUT", "/v1/models", [["content-type", "application/json"]], "{}"), 405, "method_not_allowed");
    expect(putModels.headers.allow).toBe("GET, HEAD");
  });

  it("answers an HTTP/1.1 request without a Host header through the routes, coded (not Node's bare 400)", async () => {
    const health = (await rawRequest(port, "GET /healthz HTTP/1.1\r\nconnection: close\r\n\r\n")) as RawResponse;
    expect(health.status).toBe(200);
    await expectError("GET /nowhere HTTP/1.1\r\nconnection: close\r\n\r\n", 404, "not_found");
  });

  it("answers HEAD on GET routes with the GET headers and no body", async () => {
    const get = (await rawRequest(port, buildRequest("GET", "/healthz", []))) as RawResponse;
    const head = (await rawRequest(port, buildRequest("HEAD", "/healthz", []), { head: true })) as RawResponse;
    expect(head.status).toBe(200);
    expect(head.headers["content-length"]).toBe(get.headers["content-length"]);
    expect(head.headers["content-type"]).toBe("application/json");
  });

  it("refuses bodies over max_body with 413 payload_too_large, declared or chunked", async () => {
    const big = json("x".repeat(maxBody));
    const declared = await expectError(chat([["content-type", "application/json"]], big), 413, "payload_too_large");
    expect(declared.headers.connection).toBe("close");
    const chunked = Buffer.concat([
      Buffer.from(
        `POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\nauthorization: Bearer ${token}\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n`,
      ),
      Buffer.from(`${Buffer.byteLength(big).toString(16)}\r\n${big}\r\n0\r\n\r\n`),
    ]);
    await expectError(chunked, 413, "payload_too_large");
  });

  it("checks the token before reading the body", async () => {
    const anonymous = buildRequest("POST", "/v1/chat/completions", [["content-type", "application/json"]], "x".repeat(maxBody * 2));
    await expectError(anonymous, 401, "unauthorized");
  });

  it("refuses bodies that are not JSON with bad_request: other content types, none, malformed or empty JSON, wrong fields", async () => {
    const plain = await expectError(chat([["content-type", "text/plain"]], json("hi")), 400, "bad_request");
    expect(plain.body.toString()).toContain("application/json");
    await expectError(chat([["content-type", "application/x-www-form-urlencoded"]], json("hi")), 400, "bad_request");
    await expectError(chat([], json("hi")), 400, "bad_request");
    const malformed = await expectError(chat([["content-type", "application/json"]], "{nope"), 400, "bad_request");
    expect(JSON.parse(malformed.body.toString()).error.message).toBe("The body is not valid JSON.");
    await expectError(chat([["content-type", "application/json"]], ""), 400, "bad_request");
    await expectError(chat([["content-type", "application/json"]], JSON.stringify({ messages: "hi" })), 400, "bad_request", { param: "messages" });
  });

  it("answers requests that are not HTTP/1.1 with coded errors from the raw socket", async () => {
    await expectError("NOT A REQUEST\r\n\r\n", 400, "bad_request");
    await expectError(`GET /healthz HTTP/1.1\r\nhost: x\r\nx-big: ${"a".repeat(20_000)}\r\n\r\n`, 413, "payload_too_large");
    await expectError("POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\ncontent-length: 1\r\ntransfer-encoding: chunked\r\n\r\n", 400, "bad_request");
    const health = await fetch(`${node.httpUrl}/healthz`);
    expect(health.status).toBe(200);
  });

  it("still serves JSON with a charset parameter", async () => {
    const result = (await rawRequest(port, chat([["content-type", "application/json; charset=utf-8"]], json("hello there")))) as RawResponse;
    expect(result.status).toBe(200);
    expect(JSON.parse(result.body.toString()).choices[0].message.content).toBe("hello there");
  });
});
