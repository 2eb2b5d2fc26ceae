// Fuzzes the HTTP port of a real node with raw requests: paths, methods, headers, bodies, broken framing.
import fc from "fast-check";
import { SignJWT } from "jose";
import { describe, expect, it } from "vitest";
import { expectHttpServed, expectWebsocketServed, isCoded, type HostileNode } from "../helpers/hostile-node.js";
import { buildRequest, rawRequest, type NoResponse, type RawResponse } from "../helpers/raw-http.js";
import { badUtf8Arbitrary, deepJsonArbitrary, hugeNumberText, knowledgeArbitrary, responseFormatArbitrary, tokenArbitrary, wrongTypeValue, type TokenSet } from "./hostile-inputs.js";
import { completionBodyArbitrary, embeddingBodyArbitrary } from "./legacy-bodies.js";
import { fuzzKnowledgeBase } from "./fuzz-knowledge-base.js";
import { toolChoiceArbitrary, toolMessagesArbitrary, toolsArbitrary } from "./tool-fields.js";
import { useHostileNode } from "./use-hostile-node.js";

const maxBody = 256 * 1024;
// With a knowledge base that matches nearly any text, so every chat body goes through the retrieve stage.
const nodeOptions = async () => ({
  http: { max_body: maxBody },
  agent: { model_aliases: ["gpt-4o-mini", "org/model"] },
  config: { knowledge: { enabled: true, database: await fuzzKnowledgeBase() } },
});

let node: HostileNode;
let tokens: TokenSet;

useHostileNode(nodeOptions, (started, startedTokens) => ([node, tokens] = [started, startedTokens]));

const visible = fc.constantFrom(..."abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~!$&'()*+,;=:@/?#[]%\"<>\\^`{|}");

/** Request targets: the routes, their near misses, and what breaks URL parsers. */
const pathArbitrary: fc.Arbitrary<string> = fc.oneof(
  {
    weight: 3,
    arbitrary: fc.constantFrom(
      "/", "//", "//[", "///", "/[", "/]", "/%", "/%zz", "/%00", "/%2e%2e/%2e%2e", "/..", "/../", "/../../etc/passwd",
      "/./healthz", "//healthz", "/healthz/", "/HEALTHZ", "/healthz?x=%", "/healthz#frag", "/readyz", "/v1/models",
      "/v1/models?%", "/v1/chat/completions", "/v1/chat/completions/", "/v1//chat/completions", "//v1/chat/completions",
      "/v1/chat/completions?stream=true", "/v1/chat/completions%00", "*", "http://127.0.0.1/healthz", "http://[::1",
      "http://a:b@[/x", "/?a=%E0%A4%A", "/@", "/:", "/\\", "/%%", "/%C0%AF", "/%FF", "//%5B",
      "/v1/embeddings", "/v1/embeddings/", "/v1/completions", "/v1/completions?stream=true", "/v1//completions", "/v1/embeddings%00",
      "/v1/models/echo", "/v1/models/gpt-4o-mini", "/v1/models/org/model", "/v1/models/org%2Fmodel", "/v1/models/gpt-4",
      "/v1/models/", "/v1/models//", "/v1/models/%", "/v1/models/echo%00", "/v1/models/%2e%2e", "/v1/models/echo?x=%",
      "/admin/policy", "/admin/sessions", "/admin/sessions?limit=%", "/admin/tokens/revoke", "/admin/erase", "/admin/", "/admin//erase",
      "/admin/tools", "/admin/tools?x=1", "/admin/tools/", "/admin//tools",
      "/admin/status", "/admin/status?x=1", "/auth/login", "/auth/login/", "/console", "/console/", "/web/config.json",
      "/web/chat/chat.js", "/web/vendor/markdown-it.mjs", "/web/../package.json", "/web/%2e%2e/package.json", "/web/",
    ),
  },
  {
    weight: 3,
    arbitrary: fc
      .tuple(
        fc.array(fc.oneof(fc.constantFrom("v1", "chat", "completions", "embeddings", "models", "healthz", "readyz", "..", ".", "", "%", "%2F", "[", "]"), fc.string({ unit: visible, maxLength: 12 })), { maxLength: 8 }),
        fc.option(fc.string({ unit: visible, maxLength: 30 })),
      )
      .map(([segments, query]) => `/${segments.join("/")}${query === null ? "" : `?${query}`}`),
  },
  { weight: 1, arbitrary: fc.integer({ min: 1000, max: 8000 }).map((length) => `/${"a".repeat(length)}`) },
  { weight: 1, arbitrary: fc.integer({ min: 100, max: 2000 }).map((count) => "/".repeat(count)) },
  { weight: 1, arbitrary: fc.integer({ min: 100, max: 2000 }).map((count) => `/v1/chat/completions?${"%".repeat(count)}`) },
);

const methodArbitrary = fc.oneof(
  { weight: 5, arbitrary: fc.constantFrom("GET", "POST", "HEAD") },
  { weight: 2, arbitrary: fc.constantFrom("PUT", "DELETE", "OPTIONS", "PATCH", "TRACE", "PROPFIND", "SEARCH") },
);

function headersArbitrary(): fc.Arbitrary<[string, string][]> {
  const headerName = fc.stringMatching(/^[a-z][a-z0-9-]{0,15}$/);
  const headerValue = fc.string({ unit: fc.constantFrom(..." abcxyz019=;,./:\"'()[]{}%*"), maxLength: 40 });
  const authorization = fc.oneof(
    // Tokens over Node's 16 KiB header limit are framing errors, fuzzed in the broken-framing case.
    { weight: 6, arbitrary: tokenArbitrary(tokens).filter((token) => token.length < 8_000).map((token) => `Bearer ${token}`) },
    { weight: 1, arbitrary: fc.constantFrom("Bearer", "Bearer ", "bearer x", "Basic YWxpY2U6c2VjcmV0", "Token abc", `Bearer ${tokens.valid} ${tokens.valid}`) },
  );
  const contentType = fc.constantFrom("application/json", "application/json; charset=utf-8", "text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", "application/json; charset=latin1", "");
  return fc
    .record(
      {
        authorization,
        "content-type": contentType,
        accept: fc.constantFrom("*/*", "text/event-stream", "application/json"),
        extra: fc.array(fc.tuple(headerName, headerValue), { maxLength: 4 }),
      },
      { requiredKeys: [] },
    )
    .map(({ extra, ...known }) => [
      ...Object.entries(known).filter((entry): entry is [string, string] => typeof entry[1] === "string"),
      // A client's own host/content-length/connection/transfer-encoding/expect would change the framing: fuzzed elsewhere.
      ...(extra ?? []).filter(([name]) => !["host", "content-length", "connection", "transfer-encoding", "expect", "upgrade"].includes(name)),
    ]);
}

/** Bodies for /v1/chat/completions: valid ones, wrong types, huge numbers, bad UTF-8, deep JSON, random bytes, too large. */
function chatBodyArbitrary(): fc.Arbitrary<Buffer> {
  const content = fc.oneof(fc.string({ maxLength: 40 }), fc.string({ unit: "grapheme", maxLength: 10 }));
  const valid = fc.record(
    {
      model: fc.constantFrom("echo", "gpt-4o-mini", "org/model", "gpt-4", "ECHO", ""),
      messages: fc.array(fc.record({ role: fc.constantFrom("system", "user", "assistant"), content }), { minLength: 1, maxLength: 4 }),
      max_tokens: fc.integer({ min: 1, max: 64 }),
      stream: fc.boolean(),
      temperature: fc.double({ min: 0, max: 2, noNaN: true }),
      stream_options: fc.record({ include_usage: fc.boolean() }),
      response_format: responseFormatArbitrary,
      logprobs: fc.boolean(),
      top_logprobs: fc.integer({ min: -1, max: 21 }),
      knowledge: knowledgeArbitrary,
      tools: toolsArbitrary,
      tool_choice: toolChoiceArbitrary,
      parallel_tool_calls: fc.oneof(fc.boolean(), wrongTypeValue),
    },
    { requiredKeys: ["model", "messages"] },
  );
  // Function calling: tool conversations (answered, unanswered and unmatched calls) with tools and a tool_choice.
  const toolConversation = fc
    .tuple(valid, toolMessagesArbitrary, toolsArbitrary, toolChoiceArbitrary)
    .map(([body, messages, tools, toolChoice]) => ({ ...body, messages, tools, tool_choice: toolChoice }));
  const wrongType = fc
    .tuple(
      valid,
      fc.constantFrom(
        "model", "messages", "max_tokens", "stream", "temperature", "top_p", "stop", "seed", "stream_options", "n", "tools", "tool_choice", "functions",
        "function_call", "audio", "modalities", "logit_bias", "frequency_penalty", "presence_penalty", "web_search_options", "grammar", "json_schema",
        "response_format", "logprobs", "top_logprobs", "knowledge", "parallel_tool_calls",
      ),
      wrongTypeValue,
    )
    .map(([body, key, value]) => ({ ...body, [key]: value }));
  const wrongMessage = fc
    .tuple(valid, fc.constantFrom("role", "content", "name", "tool_calls", "tool_call_id", "function_call", "audio"), wrongTypeValue)
    .map(([body, key, value]) => ({ ...body, messages: [{ ...body.messages[0], [key]: value }] }));
  // Content parts of every type (image, audio, file: refused by name), with wrong-typed fields.
  const part = fc.record({ type: fc.oneof(fc.constantFrom("text", "image_url", "input_audio", "file", "refusal", ""), wrongTypeValue), text: fc.oneof(content, wrongTypeValue) }, { requiredKeys: [] });
  const contentParts = fc
    .tuple(valid, fc.array(part, { maxLength: 4 }))
    .map(([body, parts]) => ({ ...body, messages: [...body.messages, { role: "user", content: parts }] }));
  const hugeNumber = fc
    .tuple(fc.constantFrom("max_tokens", "temperature", "top_p", "seed", "n"), hugeNumberText)
    .map(([key, number]) => `{"model":"echo","messages":[{"role":"user","content":"hi"}],"${key}":${number}}`);
  const badUtf8 = badUtf8Arbitrary.map((bytes) =>
    Buffer.concat([Buffer.from('{"model":"echo","messages":[{"role":"user","content":"a'), bytes, Buffer.from('b"}]}')]),
  );
  const badUtf8Outside = badUtf8Arbitrary.map((bytes) => Buffer.concat([Buffer.from('{"model":"echo",'), bytes, Buffer.from('"messages":[]}')]));
  return fc.oneof(
    { weight: 4, arbitrary: valid.map((body) => Buffer.from(JSON.stringify(body))) },
    { weight: 4, arbitrary: wrongType.map((body) => Buffer.from(JSON.stringify(body))) },
    { weight: 2, arbitrary: wrongMessage.map((body) => Buffer.from(JSON.stringify(body))) },
    { weight: 2, arbitrary: contentParts.map((body) => Buffer.from(JSON.stringify(body))) },
    { weight: 3, arbitrary: toolConversation.map((body) => Buffer.from(JSON.stringify(body))) },
    { weight: 2, arbitrary: hugeNumber.map((text) => Buffer.from(text)) },
    { weight: 2, arbitrary: badUtf8 },
    { weight: 1, arbitrary: badUtf8Outside },
    { weight: 1, arbitrary: deepJsonArbitrary.map((text) => Buffer.from(text)) },
    { weight: 1, arbitrary: fc.json({ maxDepth: 4 }).map((text) => Buffer.from(text)) },
    { weight: 1, arbitrary: fc.uint8Array({ maxLength: 200 }).map((bytes) => Buffer.from(bytes)) },
    { weight: 1, arbitrary: fc.integer({ min: maxBody + 1, max: maxBody + 4096 }).map((size) => Buffer.alloc(size, 0x20)) },
  );
}

/** Why a response to a well-framed request is neither a coded error nor a valid answer, or undefined when it is one of them. */
function responseProblem(result: RawResponse | NoResponse, head: boolean): string | undefined {
  if (result.kind !== "response") return `no response (${result.kind}; got ${JSON.stringify(result.partial.toString("latin1").slice(0, 200))})`;
  const { status, body, headers } = result;
  if (head) return status < 300 || status >= 400 ? undefined : `HEAD answered ${status}`;
  const text = body.toString("utf8");
  if (status >= 400) {
    const code = parseJson(text)?.error?.code;
    return isCoded(code) ? undefined : `HTTP ${status} without a code from errors.ts: ${JSON.stringify(text.slice(0, 300))}`;
  }
  if (status < 200 || status >= 300) return `unexpected HTTP ${status}`;
  if ((headers["content-type"] ?? "").startsWith("text/event-stream")) return sseProblem(text);
  // The web chat's and console's files: only ever served with their Content-Security-Policy.
  if (/^(text\/html|text\/javascript|text\/css|image\/)/.test(headers["content-type"] ?? "")) {
    return headers["content-security-policy"] ? undefined : `a web file without its Content-Security-Policy: ${headers["content-type"]}`;
  }
  const json = parseJson(text);
  if (json?.object === "chat.completion" && typeof json.choices?.[0]?.message?.content === "string") return undefined;
  // Calls of the client's tools: content null (or text before them), tool_calls in OpenAI's shape.
  if (json?.object === "chat.completion" && json.choices?.[0]?.finish_reason === "tool_calls") return toolCallsProblem(json.choices[0].message?.tool_calls);
  if (json?.object === "text_completion" && typeof json.choices?.[0]?.text === "string") return undefined;
  if (json?.status === "ok" || json?.status === "ready" || (json?.object === "list" && Array.isArray(json.data))) return undefined;
  if (json?.object === "model" && typeof json.id === "string") return undefined;
  // The admin API's answers (an admin token): a session page, a revocation, an erasure, a policy, the tool listing.
  if (Array.isArray(json?.sessions) && typeof json.total === "number") return undefined;
  if (json?.revoked !== undefined && typeof json.revoked_at === "string") return undefined;
  if (typeof json?.subject?.sm3 === "string" && typeof json.counts === "object") return undefined;
  if (typeof json?.digest === "string" && typeof json.policy === "object") return undefined;
  if (Array.isArray(json?.tools) && Array.isArray(json.mcp_servers)) return undefined;
  // The pages' config, the console's status (an admin token) and a login's token.
  if (typeof json?.version === "string" && "websocket" in json && typeof json.login === "boolean") return undefined;
  if (typeof json?.node === "object" && typeof json.traffic === "object" && Array.isArray(json.gateways)) return undefined;
  if (json?.token_type === "Bearer" && typeof json.token === "string") return undefined;
  return `HTTP ${status} with a body that is no known answer: ${JSON.stringify(text.slice(0, 300))}`;
}

/** Why an answer's tool_calls are not OpenAI's shape (a non-empty list of function calls with an id, a name and JSON object arguments). */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
function toolCallsProblem(calls: any): string | undefined {
  if (!Array.isArray(calls) || calls.length === 0) return `finish_reason tool_calls without tool_calls: ${JSON.stringify(calls)}`;
  for (const call of calls) {
    const args = typeof call?.function?.arguments === "string" ? parseJson(call.function.arguments) : undefined;
    const wellFormed = call?.type === "function" && typeof call.id === "string" && typeof call.function.name === "string" && typeof args === "object" && args !== null && !Array.isArray(args);
    if (!wellFormed) return `a tool call not in OpenAI's shape: ${JSON.stringify(call).slice(0, 300)}`;
  }
  return undefined;
}

/** An SSE answer: chunks, then [DONE] — or an error event with a code. */
function sseProblem(text: string): string | undefined {
  const events = text.split("\n\n").filter((event) => event.startsWith("data: ")).map((event) => event.slice(6));
  const last = events.at(-1);
  if (last === "[DONE]") return events.slice(0, -1).every((event) => ["chat.completion.chunk", "text_completion"].includes(parseJson(event)?.object)) ? undefined : `bad SSE chunk in ${text.slice(0, 300)}`;
  return isCoded(parseJson(last ?? "")?.error?.code) ? undefined : `SSE stream without [DONE] or coded error: ${JSON.stringify(text.slice(-300))}`;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
function parseJson(text: string): any {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** Runs one request and returns a failure text, checking the node is still up afterwards. */
async function check(bytes: Buffer, head: boolean): Promise<string | undefined> {
  node.assertAlive("before the request");
  const result = await rawRequest(node.port, bytes, { head, timeoutMs: 15_000 });
  // Give a crash the chance to show: at once after an answer, a moment after a dropped connection.
  if (!(await node.stillAliveAfter(result.kind === "response" ? 0 : 500))) return `the node exited after this request\n${node.cli.describe().slice(-3000)}`;
  return responseProblem(result, head);
}

describe("hostile HTTP clients", () => {
  it("answers every generated path and method with a coded error or a valid answer, and stays up", async () => {
    await fc.assert(
      fc.asyncProperty(methodArbitrary, pathArbitrary, headersArbitrary(), async (method, target, headers) => {
        const problem = await check(buildRequest(method, target, headers), method === "HEAD");
        expect(problem, `${method} ${target} ${JSON.stringify(headers)}`).toBeUndefined();
      }),
      { numRuns: 1000, endOnFailure: true, examples: [["GET", "//", []], ["GET", "//[", []], ["POST", "//", []], ["GET", "/%", []]] },
    );
    await expectHttpServed(node);
  });

  it("answers every generated body to /v1/chat/completions with a coded error or a valid answer", async () => {
    await fc.assert(
      fc.asyncProperty(headersArbitrary(), chatBodyArbitrary(), fc.constantFrom("POST", "POST", "POST", "PUT", "GET"), async (headers, body, method) => {
        const withAuth = headers.some(([name]) => name === "authorization") ? headers : [...headers, ["authorization", `Bearer ${tokens.valid}`] as [string, string]];
        const problem = await check(buildRequest(method, "/v1/chat/completions", withAuth, body), false);
        expect(problem, `${method} body ${JSON.stringify(body.toString("latin1").slice(0, 200))} headers ${JSON.stringify(withAuth)}`).toBeUndefined();
      }),
      { numRuns: 800, endOnFailure: true },
    );
    await expectHttpServed(node);
    await expectWebsocketServed(node);
  });

  it("answers every generated body to /v1/completions and /v1/embeddings with a coded error or a valid answer", async () => {
    const routes = fc.oneof(
      fc.tuple(fc.constant("/v1/completions"), completionBodyArbitrary(maxBody)),
      fc.tuple(fc.constant("/v1/embeddings"), embeddingBodyArbitrary(maxBody)),
    );
    await fc.assert(
      fc.asyncProperty(headersArbitrary(), routes, fc.constantFrom("POST", "POST", "POST", "PUT", "GET"), async (headers, [route, body], method) => {
        const withAuth = headers.some(([name]) => name === "authorization") ? headers : [...headers, ["authorization", `Bearer ${tokens.valid}`] as [string, string]];
        const problem = await check(buildRequest(method, route, withAuth, body), false);
        expect(problem, `${method} ${route} body ${JSON.stringify(body.toString("latin1").slice(0, 200))} headers ${JSON.stringify(withAuth)}`).toBeUndefined();
      }),
      { numRuns: 600, endOnFailure: true },
    );
    await expectHttpServed(node);
  });

  it("answers every generated request to the admin API (admin, user and junk tokens) with a coded error or a valid answer", async () => {
    const now = Math.floor(Date.now() / 1000);
    const adminToken = await new SignJWT({ scope: "admin" })
      .setProtectedHeader({ alg: "HS256" })
      .setSubject("fuzz-admin")
      .setIssuedAt(now)
      .setExpirationTime(now + 3600)
      .sign(new TextEncoder().encode(node.secret));
    // Never revoke the fuzzer's own tokens or the admin's, which the other cases and the final checks use.
    const identifier = fc.oneof(fc.string({ maxLength: 40 }), fc.string({ unit: "grapheme", maxLength: 8 }), fc.constantFrom("", "x".repeat(2000))).filter((text) => !["fuzzer", "fuzz-admin", "normal-user"].includes(text));
    const bodyValue = fc.oneof(
      fc.record({ jti: fc.oneof(identifier, wrongTypeValue), subject: fc.oneof(identifier, wrongTypeValue), expires_at: fc.oneof(fc.integer(), hugeNumberText.map(Number), wrongTypeValue) }, { requiredKeys: [] }).map((body) => JSON.stringify(body)),
      fc.record({ subject: fc.oneof(identifier, wrongTypeValue) }, { requiredKeys: [] }).map((body) => JSON.stringify(body)),
      fc.record({ roles: fc.oneof(fc.dictionary(fc.string({ maxLength: 8 }), fc.record({ gateways: fc.array(fc.constantFrom("http", "websocket", "*", "")), max_tokens: fc.oneof(fc.integer(), wrongTypeValue) }, { requiredKeys: [] })), wrongTypeValue) }, { requiredKeys: [] }).map((body) => JSON.stringify(body)),
      deepJsonArbitrary,
      fc.json({ maxDepth: 3 }),
      fc.string({ maxLength: 200 }),
    );
    const body = fc.oneof(
      { weight: 6, arbitrary: bodyValue.map((text) => Buffer.from(text)) },
      { weight: 1, arbitrary: badUtf8Arbitrary.map((bytes) => Buffer.concat([Buffer.from('{"subject":"'), bytes, Buffer.from('"}')])) },
      { weight: 1, arbitrary: fc.integer({ min: maxBody + 1, max: maxBody + 4096 }).map((size) => Buffer.alloc(size, 0x20)) },
    );
    const target = fc.oneof(
      fc.constantFrom("/admin/policy", "/admin/tokens/revoke", "/admin/erase", "/admin/sessions", "/admin/tools"),
      fc.string({ unit: visible, maxLength: 12 }).map((query) => `/admin/tools?${query}`),
      fc.tuple(fc.constantFrom("limit", "offset", "owner", "page", "limit[]"), fc.oneof(fc.string({ unit: visible, maxLength: 12 }), fc.integer().map(String), hugeNumberText)).map(([key, value]) => `/admin/sessions?${key}=${value}`),
    );
    const authorization = fc.oneof(
      { weight: 5, arbitrary: fc.constant(`Bearer ${adminToken}`) },
      { weight: 2, arbitrary: tokenArbitrary(tokens).filter((token) => token.length < 8_000).map((token) => `Bearer ${token}`) },
      { weight: 1, arbitrary: fc.constantFrom("", "Bearer", `Bearer ${adminToken}x`) },
    );
    const contentType = fc.constantFrom("application/json", "application/yaml", "text/yaml", "text/plain", "application/x-www-form-urlencoded", "");
    await fc.assert(
      fc.asyncProperty(fc.constantFrom("GET", "PUT", "POST", "DELETE", "HEAD"), target, authorization, contentType, body, async (method, route, auth, type, payload) => {
        const headers: [string, string][] = [...(auth ? [["authorization", auth] as [string, string]] : []), ...(type ? [["content-type", type] as [string, string]] : [])];
        const withBody = method === "PUT" || method === "POST";
        const problem = await check(buildRequest(method, route, headers, withBody ? payload : undefined), method === "HEAD");
        expect(problem, `${method} ${route} ${type} ${JSON.stringify(payload.toString("latin1").slice(0, 200))} auth ${auth.slice(0, 40)}`).toBeUndefined();
      }),
      { numRuns: 500, endOnFailure: true },
    );
    await expectHttpServed(node);
    await expectWebsocketServed(node);
  });

  it("survives broken HTTP framing and answers what it can parse with a coded error", async () => {
    // HTTP/1.1 without Host is refused by Node itself (RFC 9112 §3.2) before any handler: each case carries one.
    const withHost = (raw: string) => raw.replace(/^([^\r\n]* HTTP\/1\.1\r\n)/, "$1host: 127.0.0.1\r\n");
    const lines = fc.oneof(
      fc.constantFrom(
        "GET / HTTP/9.9\r\n\r\n",
        "GET /\r\n\r\n",
        "GET  / HTTP/1.1\r\n\r\n",
        "GET /a b HTTP/1.1\r\nhost: x\r\n\r\n",
        "GET /\u0000 HTTP/1.1\r\nhost: x\r\n\r\n",
        "\r\n\r\n\r\n",
        "G\u00e9T / HTTP/1.1\r\n\r\n",
        "GET / HTTP/1.1\r\nno colon here\r\n\r\n",
        "GET / HTTP/1.1\r\nbad name: x\r\n\r\n",
        "GET / HTTP/1.1\r\nhost: x\r\n folded: continuation\r\n\r\n",
        "GET / HTTP/1.1\nhost: x\n\n",
        "GET / HTTP/1.1\rhost: x\r\r",
        "POST /v1/chat/completions HTTP/1.1\r\ncontent-length: 5\r\ncontent-length: 6\r\n\r\nhello!",
        "POST /v1/chat/completions HTTP/1.1\r\ncontent-length: -1\r\n\r\n",
        "POST /v1/chat/completions HTTP/1.1\r\ncontent-length: abc\r\n\r\n",
        "POST /v1/chat/completions HTTP/1.1\r\ncontent-length: 99999999999999999999\r\n\r\n{}",
        "POST /v1/chat/completions HTTP/1.1\r\ntransfer-encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n",
        "POST /v1/chat/completions HTTP/1.1\r\ntransfer-encoding: chunked\r\ncontent-length: 3\r\n\r\n0\r\n\r\n",
        "POST /v1/chat/completions HTTP/1.1\r\ntransfer-encoding: gzip, chunked, identity\r\n\r\n0\r\n\r\n",
        "POST /v1/chat/completions HTTP/1.1\r\ncontent-length: 10\r\n\r\n{}",
        "GET / HTTP/1.1\r\nupgrade: websocket\r\nconnection: upgrade\r\n\r\n",
        "GET / HTTP/1.1\r\nupgrade: websocket\r\nconnection: upgrade\r\nsec-websocket-version: 13\r\nsec-websocket-key: bad\r\n\r\n",
        "GET // HTTP/1.1\r\nupgrade: websocket\r\nconnection: upgrade\r\nsec-websocket-version: 13\r\nsec-websocket-key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n",
        "GET //[ HTTP/1.1\r\nupgrade: websocket\r\nconnection: upgrade\r\nsec-websocket-version: 13\r\nsec-websocket-key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n",
        "GET / HTTP/1.1\r\nexpect: 100-continue\r\ncontent-length: 5\r\n\r\n",
        "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
        // CONNECT asks the server to become a tunnel: Node hands it to a 'connect' listener, not to the routes.
        "CONNECT 127.0.0.1:80 HTTP/1.1\r\nhost: 127.0.0.1:80\r\n\r\n",
        "CONNECT /v1/chat/completions HTTP/1.1\r\n\r\n",
      ).map(withHost),
      fc.integer({ min: 17_000, max: 80_000 }).map((length) => `GET /${"a".repeat(length)} HTTP/1.1\r\nhost: 127.0.0.1\r\n\r\n`),
      fc.integer({ min: 17_000, max: 80_000 }).map((length) => `GET / HTTP/1.1\r\nhost: 127.0.0.1\r\nx-long: ${"b".repeat(length)}\r\n\r\n`),
      fc.integer({ min: 200, max: 2000 }).map((count) => `GET / HTTP/1.1\r\nhost: 127.0.0.1\r\n${Array.from({ length: count }, (_, index) => `x-h${index}: v`).join("\r\n")}\r\n\r\n`),
      fc.string({ maxLength: 300 }),
      fc.uint8Array({ maxLength: 300 }).map((bytes) => Buffer.from(bytes).toString("latin1")),
    );
    await fc.assert(
      fc.asyncProperty(lines, async (raw) => {
        node.assertAlive("before the request");
        const result = await rawRequest(node.port, Buffer.from(raw, "latin1"), { endAfterWrite: true, timeoutMs: 15_000 });
        expect(await node.stillAliveAfter(result.kind === "response" ? 0 : 50), `the node exited after ${JSON.stringify(raw.slice(0, 200))}\n${node.cli.describe().slice(-3000)}`).toBe(true);
        if (result.kind === "response" && result.status >= 400) {
          const code = parseJson(result.body.toString("utf8"))?.error?.code;
          expect(isCoded(code), `HTTP ${result.status} to ${JSON.stringify(raw.slice(0, 120))} without a coded body: ${JSON.stringify(result.body.toString("latin1").slice(0, 200))}`).toBe(true);
        }
      }),
      { numRuns: 400, endOnFailure: true },
    );
    await expectHttpServed(node);
  });
});
