// Fuzzes POST /auth/login on a real node: bodies (wrong types, huge and unicode strings, prototype keys, bad bytes), content types, methods, oversize, a burst.
import http from "node:http";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { freePort } from "../helpers/cli-process.js";
import { expectHttpServed, isCoded, type HostileNode } from "../helpers/hostile-node.js";
import { hashPassword } from "../../src/security/password-hash.js";
import { badUtf8Arbitrary, deepJsonArbitrary, wrongTypeValue } from "./hostile-inputs.js";
import { useHostileNode } from "./use-hostile-node.js";

const alicePassword = "alice-fuzz-password";
const bobPassword = "bob-never-fuzzed-pw";
let hashes: { alice: string; bob: string } | undefined;
let node: HostileNode;
/** The second http gateway, the one with users (the hostile node's own gateways share its random secret through "${secret}"). */
let loginPort: number;

useHostileNode(
  async () => {
    hashes ??= { alice: await hashPassword(alicePassword), bob: await hashPassword(bobPassword) };
    loginPort = await freePort();
    const users = [
      { username: "alice", password_hash: hashes.alice, roles: ["user"] },
      { username: "bob", password_hash: hashes.bob, roles: ["user"], scopes: ["admin"] },
    ];
    return { gateways: [{ type: "http", port: loginPort, auth: { type: "jwt", secret: "${secret}", users } }] };
  },
  (started) => (node = started),
);

interface Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/** One request from a chosen loopback address (the brake counts per address); undefined when the node sent nothing. */
function send(options: { method: string; path: string; headers: Record<string, string>; body: Buffer; from: string }): Promise<Answer | undefined> {
  return new Promise((resolve) => {
    const request = http.request(
      { host: "127.0.0.1", port: loginPort, method: options.method, path: options.path, localAddress: options.from, headers: { ...options.headers, "content-length": options.body.length, connection: "close" }, timeout: 60_000 },
      (response) => {
        const chunks: Buffer[] = [];
        response.on("data", (chunk: Buffer) => chunks.push(chunk));
        response.on("end", () => resolve({ status: response.statusCode ?? 0, headers: response.headers, body: Buffer.concat(chunks).toString("utf8") }));
        response.on("error", () => resolve(undefined));
      },
    );
    request.on("timeout", () => request.destroy());
    request.on("error", () => resolve(undefined));
    request.end(options.body);
  });
}

/** Why an answer is neither a coded 4xx nor a login, or undefined. */
function answerProblem(answer: Answer | undefined, method: string): string | undefined {
  if (!answer) return "no response";
  if (answer.status >= 500) return `HTTP ${answer.status}: ${answer.body.slice(0, 300)}`;
  if (method === "HEAD") return undefined;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  let json: any;
  try {
    json = JSON.parse(answer.body);
  } catch {
    return `not JSON: ${JSON.stringify(answer.body.slice(0, 300))}`;
  }
  if (answer.status >= 400) {
    if (!isCoded(json?.error?.code)) return `HTTP ${answer.status} without a code: ${answer.body.slice(0, 300)}`;
    if (json.error.code === "rate_limited" && !(Number(answer.headers["retry-after"]) > 0)) return "rate_limited without Retry-After";
    if (answer.body.includes(alicePassword)) return "the answer repeats the password";
    return undefined;
  }
  const isLogin = answer.status === 200 && typeof json?.token === "string" && json.token_type === "Bearer" && json.subject === "alice";
  return isLogin ? undefined : `HTTP ${answer.status} that is no login: ${answer.body.slice(0, 300)}`;
}

const text = fc.oneof(
  { weight: 3, arbitrary: fc.string({ maxLength: 40 }) },
  { weight: 2, arbitrary: fc.string({ unit: "grapheme", maxLength: 20 }) },
  { weight: 1, arbitrary: fc.string({ unit: "binary", maxLength: 20 }) },
  { weight: 1, arbitrary: fc.integer({ min: 100, max: 9000 }).map((length) => "\u4e2d".repeat(length)) },
  { weight: 1, arbitrary: fc.constantFrom("", " ", "\u0000", "\ud800", "a\u0301", "\u202e", "alice\u0000", "x".repeat(129), "y".repeat(1025)) },
);
// bob is kept out of the fuzz: the check afterwards logs in as bob.
const username = fc.oneof(fc.constantFrom("alice", "ALICE", "alice ", " alice", "__proto__", "constructor", "toString", "hasOwnProperty", "prototype"), text).filter((name) => name !== "bob");
const password = fc.oneof(fc.constantFrom(alicePassword, `${alicePassword} `, alicePassword.toUpperCase()), text);
const prototypeKey = fc.constantFrom("__proto__", "constructor", "prototype", "toString", "valueOf", "extra");

/** Bodies as bytes: valid shapes, extra and prototype keys, wrong types, bad UTF-8, deep JSON, random bytes, oversize. */
const bodyArbitrary: fc.Arbitrary<Buffer> = fc.oneof(
  { weight: 2, arbitrary: fc.constant(JSON.stringify({ username: "alice", password: alicePassword })) },
  { weight: 5, arbitrary: fc.tuple(username, password).map(([name, secret]) => JSON.stringify({ username: name, password: secret })) },
  {
    weight: 2,
    arbitrary: fc
      .tuple(username, password, prototypeKey, fc.oneof(wrongTypeValue, fc.constant({ admin: true })))
      .map(([name, secret, key, value]) => `{"username":${JSON.stringify(name)},"password":${JSON.stringify(secret)},${JSON.stringify(key)}:${JSON.stringify(value) ?? "null"}}`),
  },
  { weight: 2, arbitrary: fc.tuple(fc.oneof(username, wrongTypeValue), fc.oneof(password, wrongTypeValue)).map(([name, secret]) => JSON.stringify({ username: name, password: secret }) ?? "null") },
  { weight: 1, arbitrary: fc.constantFrom("{}", "[]", "null", "1", '"alice"', '{"username":"alice"}', '{"password":"x"}', "", "{", '{"username":"alice","password":"a","username":"bob"}') },
  { weight: 1, arbitrary: badUtf8Arbitrary.map((bytes) => Buffer.concat([Buffer.from('{"username":"alice","password":"'), bytes, Buffer.from('"}')])) },
  { weight: 1, arbitrary: deepJsonArbitrary.filter((json) => json.length < 20_000) },
  { weight: 1, arbitrary: fc.json({ maxDepth: 4 }) },
  { weight: 1, arbitrary: fc.uint8Array({ maxLength: 200 }).map((bytes) => Buffer.from(bytes)) },
  { weight: 1, arbitrary: fc.integer({ min: 8 * 1024 + 1, max: 64 * 1024 }).map((size) => `{"username":"alice","password":"${"p".repeat(size)}"}`) },
).map((body) => (Buffer.isBuffer(body) ? body : Buffer.from(body, "utf8")));

const contentType = fc.constantFrom(
  "application/json", "application/json; charset=utf-8", "APPLICATION/JSON", "text/plain", "application/x-www-form-urlencoded",
  "multipart/form-data; boundary=x", "application/json; charset=latin1", "application/jsonx", "",
);
const method = fc.oneof({ weight: 8, arbitrary: fc.constant("POST") }, { weight: 2, arbitrary: fc.constantFrom("GET", "HEAD", "PUT", "DELETE", "OPTIONS", "PATCH") });
const path = fc.oneof({ weight: 8, arbitrary: fc.constant("/auth/login") }, { weight: 1, arbitrary: fc.constantFrom("/auth/login/", "/auth/login?x=1", "/auth//login", "/AUTH/LOGIN", "/auth", "/auth/login%00") });
/** A few addresses that soon hit the brake, and many that do not. */
const from = fc.oneof(fc.constantFrom("127.0.1.1", "127.0.1.2", "127.0.1.3"), fc.tuple(fc.integer({ min: 2, max: 250 }), fc.integer({ min: 1, max: 250 })).map(([a, b]) => `127.0.${a}.${b}`));

describe("hostile login clients", () => {
  it("answers every generated login request with a coded 4xx or a login, never 5xx", async () => {
    await fc.assert(
      fc.asyncProperty(method, path, contentType, bodyArbitrary, from, async (verb, target, type, body, address) => {
        const answer = await send({ method: verb, path: target, headers: type === "" ? {} : { "content-type": type }, body, from: address });
        expect(answerProblem(answer, verb), `${verb} ${target} ${type} from ${address}: ${JSON.stringify(body.toString("latin1").slice(0, 200))}`).toBeUndefined();
        node.assertAlive("after a login request");
      }),
      { numRuns: 400, endOnFailure: true },
    );
  });

  it("answers a burst of parallel logins (wrong passwords from many addresses) with coded errors", async () => {
    const answers = await Promise.all(
      Array.from({ length: 60 }, (_, index) =>
        send({ method: "POST", path: "/auth/login", headers: { "content-type": "application/json" }, body: Buffer.from(JSON.stringify({ username: `burst-${index}`, password: "wrong-password" })), from: `127.0.251.${index + 1}` }),
      ),
    );
    for (const answer of answers) {
      expect(answerProblem(answer, "POST")).toBeUndefined();
      expect([401, 429]).toContain(answer?.status);
    }
  });

  it("still logs in, and serves /healthz and a chat, afterwards", async () => {
    const answer = await send({ method: "POST", path: "/auth/login", headers: { "content-type": "application/json" }, body: Buffer.from(JSON.stringify({ username: "bob", password: bobPassword })), from: "127.0.252.1" });
    expect(answer?.status, answer?.body).toBe(200);
    const { token } = JSON.parse(answer?.body ?? "{}") as { token: string };
    // Same secret: the node's main http gateway takes the token too.
    expect((await fetch(`${node.httpUrl}/v1/models`, { headers: { authorization: `Bearer ${token}` } })).status).toBe(200);
    expect((await fetch(`http://127.0.0.1:${loginPort}/healthz`)).status).toBe(200);
    await expectHttpServed(node);
  });
});
