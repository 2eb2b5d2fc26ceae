// Password login end to end: POST /auth/login on a real node (the real test model), its token on HTTP, WebSocket and the admin API, the brute-force brake, and `clawbot auth hash-password`.
import { spawn } from "node:child_process";
import fs from "node:fs";
import http from "node:http";
import { decodeJwt } from "jose";
import OpenAI from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ErrorCode } from "../src/core/errors.js";
import { ignoredGatewayEvents } from "../src/gateways/gateway-events.js";
import { hashPassword, verifyPassword } from "../src/security/password-hash.js";
import { killAll, removeTempDirs, repositoryRoot, runCli, tempDir } from "./helpers/cli-process.js";
import { startTestNode, type TestNode } from "./helpers/test-node.js";
import { WsTestClient } from "./helpers/ws-test-client.js";

interface LoginAnswer {
  status: number;
  headers: http.IncomingHttpHeaders;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  body: any;
}

/** POST /auth/login from a given loopback address (the brake counts per address, so each case uses its own). */
function login(node: TestNode, body: unknown, from = "127.0.0.1"): Promise<LoginAnswer> {
  const url = new URL("/auth/login", node.httpUrl);
  const text = JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const request = http.request(
      { host: url.hostname, port: url.port, path: url.pathname, method: "POST", localAddress: from, headers: { "content-type": "application/json", "content-length": Buffer.byteLength(text) } },
      (response) => {
        let received = "";
        response.setEncoding("utf8").on("data", (chunk: string) => (received += chunk));
        response.on("end", () => resolve({ status: response.statusCode ?? 0, headers: response.headers, body: JSON.parse(received) }));
      },
    );
    request.on("error", reject);
    request.end(text);
  });
}

const get = (node: TestNode, path: string, token: string) => fetch(new URL(path, node.httpUrl), { headers: { authorization: `Bearer ${token}` } });

const passwords = { alice: "alice-password-1", ops: "ops-password-12", erin: "erin-password-3", carol: "carol-Passw0rd-\u4e2d\u6587" };
const refusals: { gateway: string; code: ErrorCode; reason: string; remote?: string }[] = [];
let node: TestNode;
let carolHash: string;

beforeAll(async () => {
  // carol's hash comes from the real command, piped; the node then lets her in with it.
  const cli = await runCli(["auth", "hash-password"], { cwd: tempDir("clawbot-login-"), stdin: `${passwords.carol}\nsecond line ignored\n` });
  expect(cli.code, cli.stderr).toBe(0);
  carolHash = cli.stdout.trim();
  const [alice, ops, erin] = await Promise.all([hashPassword(passwords.alice), hashPassword(passwords.ops), hashPassword(passwords.erin)]);
  node = await startTestNode({
    auth: {
      login_ttl: "2h",
      users: [
        { username: "alice", password_hash: alice, roles: ["user", "nurse"] },
        { username: "ops", password_hash: ops, roles: ["user"], scopes: ["admin"] },
        { username: "erin", password_hash: erin, roles: ["user"] },
        { username: "carol", password_hash: carolHash },
      ],
    },
    observe: { events: (gateway) => ({ ...ignoredGatewayEvents, authFailed: (code, reason, remote) => refusals.push({ gateway, code, reason, remote }) }) },
  });
});

afterAll(async () => {
  await node?.close();
  await killAll();
  removeTempDirs();
});

describe("POST /auth/login", () => {
  it("signs a token with the user's roles and scopes for login_ttl, accepted by the HTTP API", async () => {
    const answer = await login(node, { username: "alice", password: passwords.alice });
    expect(answer.status).toBe(200);
    expect(answer.headers["cache-control"]).toBe("no-store");
    expect(answer.body).toMatchObject({ token_type: "Bearer", subject: "alice", roles: ["user", "nurse"], scopes: [] });
    const claims = decodeJwt(answer.body.token);
    expect(claims).toMatchObject({ sub: "alice", roles: ["user", "nurse"] });
    expect(claims.scope).toBeUndefined();
    expect(typeof claims.jti).toBe("string");
    expect((claims.exp as number) - (claims.iat as number)).toBe(2 * 3600);
    expect(answer.body.expires_at).toBe(new Date((claims.exp as number) * 1000).toISOString());
    expect((await get(node, "/v1/models", answer.body.token)).status).toBe(200);
  });

  it("opens the WebSocket with an auth frame and chats with the real model", async () => {
    const { body } = await login(node, { username: "alice", password: passwords.alice });
    const client = await WsTestClient.connect(node.wsUrl);
    try {
      client.send({ type: "auth", token: body.token });
      const authenticated = await client.next((frame) => frame.type === "authenticated");
      // The gateway's expires_at adds its clock_tolerance (30 s) to the token's exp.
      expect(authenticated).toMatchObject({ subject: "alice", expires_at: new Date(Date.parse(body.expires_at) + 30_000).toISOString() });
      const { deltas, end } = await client.chat("story", "Once upon a time", { max_tokens: 12 });
      expect(end.type).toBe("finish");
      expect(deltas.join("").length).toBeGreaterThan(0);
    } finally {
      client.socket.terminate();
    }
  });

  it("works with the official openai client", async () => {
    const { body } = await login(node, { username: "carol", password: passwords.carol }, "127.0.0.9");
    expect(body).toMatchObject({ subject: "carol", roles: [], scopes: [] });
    const openai = new OpenAI({ baseURL: `${node.httpUrl}/v1`, apiKey: body.token, maxRetries: 0 });
    const model = (await openai.models.list()).data[0]?.id as string;
    const completion = await openai.chat.completions.create({ model, messages: [{ role: "user", content: "Tell me a story." }], max_tokens: 12 });
    expect(completion.choices[0]?.message.content?.length).toBeGreaterThan(0);
  });

  it("gives the admin scope to whom the config gives it: /admin/tools 200 for ops, 403 for alice", async () => {
    const ops = await login(node, { username: "ops", password: passwords.ops }, "127.0.0.10");
    expect(ops.body.scopes).toEqual(["admin"]);
    expect(decodeJwt(ops.body.token).scope).toBe("admin");
    expect((await get(node, "/admin/tools", ops.body.token)).status).toBe(200);
    const alice = await login(node, { username: "alice", password: passwords.alice }, "127.0.0.10");
    const refused = await get(node, "/admin/tools", alice.body.token);
    expect(refused.status).toBe(403);
    expect(((await refused.json()) as { error: { code: string } }).error.code).toBe("forbidden");
  });

  it("answers a wrong password and an unknown user alike (401), and reports both as refused credentials", async () => {
    refusals.length = 0;
    const wrong = await login(node, { username: "alice", password: "not-her-password" }, "127.0.0.2");
    const unknown = await login(node, { username: "nobody", password: "whatever-password" }, "127.0.0.2");
    expect(wrong.status).toBe(401);
    expect(unknown.status).toBe(401);
    expect(wrong.body).toEqual(unknown.body);
    expect(wrong.body.error).toMatchObject({ code: "unauthorized", message: "The username or password is wrong." });
    expect(refusals).toEqual([
      { gateway: "http", code: "unauthorized", reason: expect.stringContaining("wrong password"), remote: "127.0.0.2" },
      { gateway: "http", code: "unauthorized", reason: expect.stringContaining("unknown user"), remote: "127.0.0.2" },
    ]);
    expect(JSON.stringify(refusals)).not.toContain("not-her-password");
    // One failure does not stop the right password.
    expect((await login(node, { username: "alice", password: passwords.alice }, "127.0.0.3")).status).toBe(200);
  });

  it("refuses the 6th attempt after 5 failures (429 with Retry-After), for the username and for the address", async () => {
    for (let attempt = 0; attempt < 5; attempt += 1) {
      expect((await login(node, { username: "erin", password: `wrong-${attempt}` }, "127.0.0.4")).status).toBe(401);
    }
    const limited = await login(node, { username: "erin", password: passwords.erin }, "127.0.0.4");
    expect(limited.status).toBe(429);
    expect(limited.body.error.code).toBe("rate_limited");
    const retryAfter = Number(limited.headers["retry-after"]);
    expect(retryAfter).toBeGreaterThan(0);
    expect(retryAfter).toBeLessThanOrEqual(300);
    // The username, from elsewhere; the address, for another user; neither reaches the password check.
    expect((await login(node, { username: "erin", password: passwords.erin }, "127.0.0.5")).status).toBe(429);
    expect((await login(node, { username: "alice", password: passwords.alice }, "127.0.0.4")).status).toBe(429);
    expect(refusals.at(-1)).toMatchObject({ gateway: "http", code: "rate_limited" });
    expect((await login(node, { username: "alice", password: passwords.alice }, "127.0.0.6")).status).toBe(200);
  });

  it("issues revocable tokens: revoked by jti, the token is refused and a new login works", async () => {
    const ops = await login(node, { username: "ops", password: passwords.ops }, "127.0.0.7");
    const alice = await login(node, { username: "alice", password: passwords.alice }, "127.0.0.7");
    const claims = decodeJwt(alice.body.token);
    const revoke = await fetch(new URL("/admin/tokens/revoke", node.httpUrl), {
      method: "POST",
      headers: { authorization: `Bearer ${ops.body.token}`, "content-type": "application/json" },
      body: JSON.stringify({ jti: claims.jti, expires_at: claims.exp }),
    });
    expect(revoke.status).toBe(200);
    const refused = await get(node, "/v1/models", alice.body.token);
    expect(refused.status).toBe(401);
    const again = await login(node, { username: "alice", password: passwords.alice }, "127.0.0.7");
    expect((await get(node, "/v1/models", again.body.token)).status).toBe(200);
  });

  it("answers 404 not_found on a gateway without users", async () => {
    const plain = await startTestNode({ agent: { engine: "echo" } });
    try {
      const answer = await login(plain, { username: "alice", password: passwords.alice });
      expect(answer.status).toBe(404);
      expect(answer.body.error).toMatchObject({ code: "not_found", message: "This gateway has no password login." });
    } finally {
      await plain.close();
    }
  });

  it("does not start with a password_hash it could never check", async () => {
    const absurd = `scrypt$1048576$64$16$${Buffer.alloc(16).toString("base64url")}$${Buffer.alloc(32).toString("base64url")}`;
    await expect(startTestNode({ agent: { engine: "echo" }, auth: { users: [{ username: "x", password_hash: absurd }] } })).rejects.toThrow(/auth\.users\[0\]\.password_hash/);
  });
});

describe("clawbot auth hash-password", () => {
  it("printed carol's hash (first piped line only) on stdout", async () => {
    expect(carolHash).toMatch(/^scrypt\$32768\$8\$1\$[\w-]+\$[\w-]+$/);
    expect(await verifyPassword(passwords.carol, carolHash)).toBe(true);
  });

  it("refuses an empty or short password with exit 2 and nothing on stdout", async () => {
    for (const stdin of ["", "\n", "short\n"]) {
      const result = await runCli(["auth", "hash-password"], { cwd: tempDir("clawbot-login-"), stdin });
      expect(result.code, stdin).toBe(2);
      expect(result.stdout).toBe("");
      expect(result.stderr).toMatch(/no password|shorter than 8/);
    }
  });

  it("shows an example auth.users snippet in --help", async () => {
    const result = await runCli(["auth", "hash-password", "--help"], { cwd: tempDir("clawbot-login-") });
    expect(result.stdout).toContain("users:");
    expect(result.stdout).toContain("password_hash:");
  });

  // util-linux `script` gives the command a pseudo-terminal (Debian has it in bsdutils, an essential package).
  it.skipIf(!fs.existsSync("/usr/bin/script"))("asks twice on a terminal without echoing the password", async () => {
    const typed = "tty-password-9";
    const session = await onTerminal([typed, typed]);
    expect(session.code).toBe(0);
    expect(session.output).not.toContain(typed);
    const hash = /scrypt\$[^\s]+/.exec(session.output)?.[0] as string;
    expect(await verifyPassword(typed, hash)).toBe(true);
    const differing = await onTerminal([typed, `${typed}x`]);
    expect(differing.code).toBe(2);
    expect(differing.output).toContain("differ");
    expect(differing.output).not.toContain("scrypt$");
  });
});

/** Runs the command on a pseudo-terminal (util-linux `script`), typing each answer once its prompt shows. */
function onTerminal(answers: string[]): Promise<{ code: number | null; output: string }> {
  const command = `${JSON.stringify(process.execPath)} bin/clawbot.js auth hash-password`;
  const child = spawn("script", ["-qfec", command, "/dev/null"], { cwd: repositoryRoot, stdio: ["pipe", "pipe", "pipe"] });
  let output = "";
  let prompts = 0;
  child.stdout.setEncoding("utf8").on("data", (chunk: string) => {
    output += chunk;
    const shown = (output.match(/(Password|Repeat it): /g) ?? []).length;
    while (prompts < shown) child.stdin.write(`${answers[prompts++] ?? ""}\r`);
  });
  return new Promise((resolve) => child.on("close", (code) => resolve({ code, output })));
}
