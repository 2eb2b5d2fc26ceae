// The admin HTTP API on a real node: scope admin required, session listing, token revocation over HTTP, WebSocket and MQTT.
import { createHash } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { SignJWT } from "jose";
import OpenAI from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MosquittoBroker } from "./helpers/mosquitto.js";
import { MqttTestClient } from "./helpers/mqtt-test-client.js";
import { startTestNode, testSecret, type TestNode } from "./helpers/test-node.js";
import { WsTestClient } from "./helpers/ws-test-client.js";

/** A token signed with the node's secret, with whatever claims a test needs (jti, scope, scopes). */
async function signed(subject: string, claims: Record<string, unknown> = {}, ttlSeconds = 3600): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({ ...claims })
    .setProtectedHeader({ alg: "HS256", typ: "JWT" })
    .setSubject(subject)
    .setIssuedAt(now)
    .setExpirationTime(now + ttlSeconds)
    .sign(new TextEncoder().encode(testSecret));
}

describe("admin HTTP API", () => {
  let node: TestNode;
  let broker: MosquittoBroker;
  let adminToken: string;

  const admin = async (method: string, route: string, body?: unknown, token: string | null = adminToken) => {
    const response = await fetch(`${node.httpUrl}${route}`, {
      method,
      headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(body === undefined ? {} : { "content-type": "application/json" }) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    return { status: response.status, body: (await response.json()) as any };
  };

  beforeAll(async () => {
    broker = await MosquittoBroker.start();
    node = await startTestNode({ agent: { engine: "echo" }, mqttBroker: broker.url, audit: { content: "full" } });
    adminToken = await signed("ops-admin", { scope: "openid admin" });
  });

  afterAll(async () => {
    await node?.close();
    await broker?.close();
  });

  it("needs a token (401) whose scope holds admin (403) on every admin route", async () => {
    const userToken = await node.token("alice");
    const routes: [string, string, unknown?][] = [
      ["GET", "/admin/policy"],
      ["PUT", "/admin/policy", { roles: {} }],
      ["GET", "/admin/sessions"],
      ["GET", "/admin/tools"],
      ["POST", "/admin/tokens/revoke", { jti: "x" }],
      ["POST", "/admin/erase", { subject: "x" }],
    ];
    for (const [method, route, body] of routes) {
      expect(await admin(method, route, body, null), `${method} ${route} without a token`).toMatchObject({ status: 401, body: { error: { code: "unauthorized" } } });
      expect(await admin(method, route, body, userToken), `${method} ${route} as a user`).toMatchObject({ status: 403, body: { error: { code: "forbidden" } } });
    }
    // A `scopes` array claim carries the scope as well.
    expect((await admin("GET", "/admin/sessions", undefined, await signed("ops-2", { scopes: ["admin"] }))).status).toBe(200);
    // Nothing was revoked or erased by the refused calls.
    expect(node.daemon.revocations.size).toBe(0);
    // This node has no policy file: nothing to show, nothing to replace.
    expect(await admin("GET", "/admin/policy")).toMatchObject({ status: 404, body: { error: { code: "not_found" } } });
    expect(await admin("PUT", "/admin/policy", { roles: {} })).toMatchObject({ status: 400, body: { error: { code: "bad_request" } } });
  });

  it("lists sessions with owner, last activity and turns, paged, filtered by owner", async () => {
    const alice = await WsTestClient.connect(node.wsUrl, { token: await node.token("list-alice") });
    const bob = await WsTestClient.connect(node.wsUrl, { token: await node.token("list-bob") });
    await alice.chat("a1", "first question", { max_tokens: 4 }, "s-one");
    await alice.chat("a2", "second question", { max_tokens: 4 }, "s-one");
    await alice.chat("a3", "another topic", { max_tokens: 4 }, "s-two");
    await bob.chat("b1", "bob asks", { max_tokens: 4 }, "s-bob");
    alice.close();
    bob.close();

    const owned = await admin("GET", "/admin/sessions?owner=list-alice");
    expect(owned.status).toBe(200);
    expect(owned.body.total).toBe(2);
    const byName = Object.fromEntries(owned.body.sessions.map((session: { session: string }) => [session.session, session]));
    expect(byName["s-one"]).toMatchObject({ owner: "list-alice", turns: 2, messages: 4 });
    expect(byName["s-two"]).toMatchObject({ owner: "list-alice", turns: 1, messages: 2 });
    expect(Number.isNaN(Date.parse(byName["s-one"].last_activity))).toBe(false);

    const first = await admin("GET", "/admin/sessions?limit=2");
    const total = first.body.total as number;
    expect(total).toBeGreaterThanOrEqual(3);
    expect(first.body.sessions).toHaveLength(2);
    expect(first.body.next_offset).toBe(2);
    const seen = [...first.body.sessions];
    for (let offset = first.body.next_offset as number | null; offset !== null; ) {
      const page = await admin("GET", `/admin/sessions?limit=2&offset=${offset}`);
      seen.push(...page.body.sessions);
      offset = page.body.next_offset;
    }
    expect(seen).toHaveLength(total);
    expect(new Set(seen.map((session) => `${session.owner}/${session.session}`)).size).toBe(total);
    // Newest first.
    const times = seen.map((session) => Date.parse(session.last_activity));
    expect([...times].sort((a, b) => b - a)).toEqual(times);

    expect(await admin("GET", "/admin/sessions?limit=0")).toMatchObject({ status: 400, body: { error: { code: "bad_request", param: "limit" } } });
    expect(await admin("GET", "/admin/sessions?page=2")).toMatchObject({ status: 400, body: { error: { code: "bad_request" } } });
  });

  it("refuses a revoked jti at once: the next HTTP request 401, the open WebSocket closed 4401, MQTT refused; other tokens go on", async () => {
    const revoked = await signed("carol", { jti: "token-carol-1" });
    const other = await signed("carol", { jti: "token-carol-2" });
    const openai = new OpenAI({ apiKey: revoked, baseURL: `${node.httpUrl}/v1`, maxRetries: 0 });
    const ask = (client: OpenAI) => client.chat.completions.create({ model: "echo", messages: [{ role: "user", content: "hello" }], max_tokens: 4 });
    expect((await ask(openai)).choices[0]?.message.content).toBeTypeOf("string");
    const socket = await WsTestClient.connect(node.wsUrl, { token: revoked });
    expect((await socket.chat("before", "hello", { max_tokens: 4 })).end.type).toBe("finish");
    const renewed = await WsTestClient.connect(node.wsUrl);
    renewed.send({ type: "auth", token: revoked });
    await renewed.next((frame) => frame.type === "authenticated");
    const mqtt = await MqttTestClient.connect(broker.url, "carol", { prefix: node.mqtt?.prefix });
    try {
      expect((await mqtt.chat("m-before", "hello", { token: revoked, params: { max_tokens: 4 } })).end.type).toBe("finish");
      const expiresAt = Math.floor(Date.now() / 1000) + 3600;
      const answer = await admin("POST", "/admin/tokens/revoke", { jti: "token-carol-1", expires_at: expiresAt });
      expect(answer).toMatchObject({ status: 200, body: { revoked: { jti: "token-carol-1" }, expires_at: new Date(expiresAt * 1000).toISOString() } });

      // Both connections authenticated with it (at upgrade, by auth frame) close at once.
      expect(await socket.closed).toMatchObject({ code: 4401, reason: "token revoked" });
      expect(await renewed.closed).toMatchObject({ code: 4401, reason: "token revoked" });
      const refused = await ask(openai).then(
        () => undefined,
        (error: unknown) => error,
      );
      expect(refused).toBeInstanceOf(OpenAI.AuthenticationError);
      expect((refused as InstanceType<typeof OpenAI.AuthenticationError>).message).toContain("token revoked");
      await expect(WsTestClient.connect(node.wsUrl, { token: revoked })).rejects.toThrow("HTTP 401");
      expect((await mqtt.chat("m-after", "hello", { token: revoked, params: { max_tokens: 4 } })).end).toMatchObject({ type: "error", code: "unauthorized", message: "token revoked" });

      // Another token of the same subject is not revoked.
      expect((await ask(new OpenAI({ apiKey: other, baseURL: `${node.httpUrl}/v1`, maxRetries: 0 }))).choices).toHaveLength(1);
      expect((await mqtt.chat("m-other", "hello", { token: other, params: { max_tokens: 4 } })).end.type).toBe("finish");
    } finally {
      await mqtt.close();
    }

    // Audited with who revoked it.
    const record = node.daemon.database.prepare("SELECT body FROM audit_records WHERE kind = 'token_revocation' ORDER BY sequence DESC LIMIT 1").get() as { body: string };
    expect(JSON.parse(record.body)).toMatchObject({ by: "ops-admin", jti: "token-carol-1" });
  });

  it("revokes every token a subject holds by subject, and a fresh token issued later works", async () => {
    const before = await signed("dave");
    const socket = await WsTestClient.connect(node.wsUrl, { token: before });
    expect((await admin("POST", "/admin/tokens/revoke", { subject: "dave" })).status).toBe(200);
    expect(await socket.closed).toMatchObject({ code: 4401 });
    expect((await admin("GET", "/v1/models", undefined, before)).status).toBe(401);
    // iat has one-second resolution: a token from the next second on is a new one.
    await new Promise((resolve) => setTimeout(resolve, 1100));
    expect((await admin("GET", "/v1/models", undefined, await signed("dave"))).status).toBe(200);
  });

  it("refuses malformed revocations and erasures with bad_request naming the problem", async () => {
    expect(await admin("POST", "/admin/tokens/revoke", {})).toMatchObject({ status: 400, body: { error: { code: "bad_request" } } });
    expect(await admin("POST", "/admin/tokens/revoke", { jti: "a", subject: "b" })).toMatchObject({ status: 400, body: { error: { code: "bad_request" } } });
    expect(await admin("POST", "/admin/tokens/revoke", { jti: "a", extra: 1 })).toMatchObject({ status: 400, body: { error: { code: "bad_request" } } });
    expect(await admin("POST", "/admin/tokens/revoke", { jti: 5 })).toMatchObject({ status: 400, body: { error: { code: "bad_request", param: "jti" } } });
    expect(await admin("POST", "/admin/erase", { subject: "" })).toMatchObject({ status: 400, body: { error: { code: "bad_request", param: "subject" } } });
    expect(await admin("DELETE", "/admin/erase")).toMatchObject({ status: 405, body: { error: { code: "method_not_allowed" } } });
  });
});

describe("admin HTTP API: the policy", () => {
  let node: TestNode;
  let file: string;
  let adminToken: string;
  const initial = "roles:\n  guest: {gateways: [http], max_tokens: 64}\n";

  const put = async (body: string, contentType: string) => {
    const response = await fetch(`${node.httpUrl}/admin/policy`, { method: "PUT", headers: { authorization: `Bearer ${adminToken}`, "content-type": contentType }, body });
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    return { status: response.status, body: (await response.json()) as any };
  };
  const sm3 = (text: string) => createHash("sm3").update(text, "utf8").digest("hex");

  beforeAll(async () => {
    file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "clawbot-admin-policy-")), "policy.yaml");
    fs.writeFileSync(file, initial);
    node = await startTestNode({ agent: { engine: "echo" }, security: { policy_file: file } });
    adminToken = await signed("policy-admin", { scope: "admin" });
  });
  afterAll(async () => node?.close());

  it("shows the policy in force and replaces it with YAML or JSON, audited with who changed it", async () => {
    const shown = await fetch(`${node.httpUrl}/admin/policy`, { headers: { authorization: `Bearer ${adminToken}` } });
    expect(shown.status).toBe(200);
    expect(await shown.json()).toMatchObject({ digest: sm3(initial), file, policy: { roles: { guest: { gateways: ["http"], max_tokens: 64 } } } });

    const yaml = "roles:\n  guest: {gateways: [http], max_tokens: 16}\n  doctor: {gateways: [websocket, http]}\n";
    const replaced = await put(yaml, "application/yaml");
    expect(replaced).toMatchObject({ status: 200, body: { digest: sm3(yaml), policy: { roles: { guest: { max_tokens: 16 }, doctor: { gateways: ["websocket", "http"] } } } } });
    expect(node.daemon.policy.current()?.digest).toBe(sm3(yaml));
    expect(fs.readFileSync(file, "utf8")).toBe(yaml);

    const json = JSON.stringify({ roles: { guest: { gateways: ["http"], max_tokens: 8 } } });
    expect(await put(json, "application/json")).toMatchObject({ status: 200, body: { policy: { roles: { guest: { max_tokens: 8 } } } } });
    expect(node.daemon.policy.current()?.document.roles.guest?.max_tokens).toBe(8);

    const changes = (node.daemon.database.prepare("SELECT body FROM audit_records WHERE kind = 'config_reload' ORDER BY sequence").all() as { body: string }[]).map((row) => JSON.parse(row.body));
    expect(changes.filter((change) => change.by === "policy-admin" && change.source === "api").map((change) => change.policy_sm3)).toEqual([sm3(yaml), sm3(json)]);
  });

  it("refuses a broken policy with 400 naming the problem, and the old one stays", async () => {
    const before = node.daemon.policy.current()?.digest;
    const broken = await put("roles:\n  guest: {gateways: [http], max_tokens: -5}\n", "application/yaml");
    expect(broken).toMatchObject({ status: 400, body: { error: { code: "bad_request" } } });
    expect(broken.body.error.message).toContain("max_tokens");
    expect(await put("roles: [unclosed", "text/yaml")).toMatchObject({ status: 400, body: { error: { code: "bad_request" } } });
    expect(await put("", "application/yaml")).toMatchObject({ status: 400, body: { error: { code: "bad_request" } } });
    expect(await put("[1, 2]", "application/json")).toMatchObject({ status: 400, body: { error: { code: "bad_request" } } });
    expect(node.daemon.policy.current()?.digest).toBe(before);
  });
});
