// Dynamic permissions end to end (echo engine): roles from JWT claims, gateways, max_tokens caps, rate and concurrency
// limits, the policy file edited under a running node, staged rollout, and the audit records of refusals and reloads.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import OpenAI from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { policyDigest } from "../src/security/policy/policy-loader.js";
import { rolloutAdmits } from "../src/security/policy/rollout.js";
import { issueToken } from "../src/security/jwt-issuer.js";
import type { RequestStart } from "../src/pipeline/request-observer.js";
import { startTestNode, testSecret, type TestNode } from "./helpers/test-node.js";
import { WsTestClient } from "./helpers/ws-test-client.js";

const hold = "HOLD-THIS-REQUEST";
const longMessage = "one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen";

/** The policy of these tests: the guest's gateways vary, and a rollout section may follow the roles. */
function policyText(guestGateways: string, rollout = ""): string {
  return [
    "roles:",
    "  doctor: {gateways: [websocket, http], max_tokens: 8, params: [response_format], rate: {requests_per_minute: 60, tokens_per_minute: 20000}, concurrency: 2}",
    `  guest: {gateways: ${guestGateways}, max_tokens: 64, rate: {requests_per_minute: 2}}`,
    "  intern: {gateways: [websocket], rate: {requests_per_minute: 2}}",
    "  visitor: {gateways: [websocket]}",
    rollout,
    "",
  ].join("\n");
}

const token = (subject: string, ...roles: string[]) => issueToken({ secret: testSecret, subject, roles, ttl: "1h" });

async function until(condition: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 15_000;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe("permissions from a policy file (echo engine)", () => {
  let node: TestNode;
  let file: string;
  const accepted: RequestStart[] = [];

  /** Writes the policy as an editor saves (a new file renamed over the old) and waits until the node applies it. */
  async function edit(text: string): Promise<void> {
    fs.writeFileSync(`${file}.new`, text);
    fs.renameSync(`${file}.new`, file);
    await until(() => node.daemon.policy.current()?.digest === policyDigest(text), "the edited policy to apply");
  }

  beforeAll(async () => {
    const directory = fs.mkdtempSync(path.join(os.tmpdir(), "clawbot-policy-test-"));
    file = path.join(directory, "policy.yaml");
    fs.writeFileSync(file, policyText("[http]"));
    node = await startTestNode({
      agent: { engine: "echo" },
      security: { policy_file: file },
      plugins: [{ path: path.resolve("test/fixtures/plugins/misbehaving-plugin.ts"), options: { hook: "preProcess", behaviour: "hang", trigger: hold } }],
      pluginTimeout: 1,
      observe: { observers: [{ accepted: (request) => void accepted.push(request) }] },
    });
  });

  afterAll(async () => {
    await node?.close();
  });

  it("refuses a guest on the WebSocket gateway with forbidden and serves it over HTTP", async () => {
    const client = await WsTestClient.connect(node.wsUrl, { token: await token("gina", "guest") });
    try {
      const { end } = await client.chat("g1", "hello");
      expect(end).toMatchObject({ type: "error", code: "forbidden", message: "Role guest may not use the websocket gateway." });
    } finally {
      client.close();
    }
    const openai = new OpenAI({ apiKey: await token("gina", "guest"), baseURL: `${node.httpUrl}/v1`, maxRetries: 0 });
    const answer = await openai.chat.completions.create({ model: "", messages: [{ role: "user", content: "hello" }] });
    expect(answer.choices[0]?.finish_reason).toBe("stop");
    // A token whose roles the policy does not know is refused everywhere (default deny).
    const stranger = new OpenAI({ apiKey: await token("sam", "janitor"), baseURL: `${node.httpUrl}/v1`, maxRetries: 0 });
    await expect(stranger.chat.completions.create({ model: "", messages: [{ role: "user", content: "hello" }] })).rejects.toMatchObject({
      status: 403,
      code: "forbidden",
    });
    // Embeddings do not take the chat path, but the same check.
    await expect(stranger.embeddings.create({ model: "", input: "hello" })).rejects.toMatchObject({ status: 403, code: "forbidden" });
    expect((await openai.embeddings.create({ model: "", input: "hello" })).data).toHaveLength(1);
  });

  it("lowers a default max_tokens to the role's cap and refuses an explicit one above it, and a param the role may not set", async () => {
    const client = await WsTestClient.connect(node.wsUrl, { token: await token("dora", "doctor") });
    try {
      const capped = await client.chat("d1", longMessage);
      expect(capped.end).toMatchObject({ type: "finish", finish_reason: "length", usage: { completion_tokens: 8 } });
      expect((await client.chat("d2", longMessage, { max_tokens: 8, temperature: 0.5 })).end).toMatchObject({ type: "finish", usage: { completion_tokens: 8 } });
      expect((await client.chat("d3", longMessage, { max_tokens: 9 })).end).toMatchObject({ type: "error", code: "forbidden", message: expect.stringContaining("max_tokens 9 is above 8") });
      expect((await client.chat("d4", longMessage, { logprobs: true, seed: 1 })).end).toMatchObject({ type: "error", code: "forbidden", message: "Role doctor may not set logprobs." });
    } finally {
      client.close();
    }
    const openai = new OpenAI({ apiKey: await token("dora", "doctor"), baseURL: `${node.httpUrl}/v1`, maxRetries: 0 });
    await expect(openai.chat.completions.create({ model: "", max_tokens: 100, messages: [{ role: "user", content: "hi" }] })).rejects.toMatchObject({
      status: 403,
      code: "forbidden",
      param: "max_tokens",
    });
  });

  it("answers rate_limited with retry_after once the role's requests per minute are used (frames and HTTP Retry-After)", async () => {
    const client = await WsTestClient.connect(node.wsUrl, { token: await token("ivan", "intern") });
    try {
      expect((await client.chat("i1", "one")).end.type).toBe("finish");
      expect((await client.chat("i2", "two")).end.type).toBe("finish");
      const { end } = await client.chat("i3", "three");
      expect(end).toMatchObject({ type: "error", code: "rate_limited", message: "Role intern may send 2 requests per minute." });
      expect(end.retry_after).toBeGreaterThanOrEqual(1);
      expect(end.retry_after).toBeLessThanOrEqual(30);
    } finally {
      client.close();
    }
    const guest = await token("gus", "guest");
    const post = () =>
      fetch(`${node.httpUrl}/v1/chat/completions`, {
        method: "POST",
        headers: { authorization: `Bearer ${guest}`, "content-type": "application/json" },
        body: JSON.stringify({ messages: [{ role: "user", content: "hi" }] }),
      });
    expect((await post()).status).toBe(200);
    expect((await post()).status).toBe(200);
    const refused = await post();
    expect(refused.status).toBe(429);
    expect(Number(refused.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
    expect(((await refused.json()) as { error: { code: string } }).error.code).toBe("rate_limited");
  });

  it("holds a subject's concurrent requests to the role's concurrency and frees the slots when they end", async () => {
    const client = await WsTestClient.connect(node.wsUrl, { token: await token("dana", "doctor") });
    try {
      const before = accepted.length;
      const held = [client.result("h1"), client.result("h2")];
      client.send({ type: "chat", id: "h1", message: hold });
      client.send({ type: "chat", id: "h2", message: hold });
      // Both were authorized (synchronously after `accepted`) and now hang in the plugin.
      await until(() => accepted.length >= before + 2, "two held requests");
      const { end } = await client.chat("h3", "and one more");
      expect(end).toMatchObject({ type: "error", code: "rate_limited", message: "Role doctor may run 2 requests at once.", retry_after: 1 });
      // The held ones end (the plugin times out); their slots are free again.
      for (const result of held) expect((await result).end).toMatchObject({ type: "error", code: "plugin_error" });
      expect((await client.chat("h4", "now")).end.type).toBe("finish");
    } finally {
      client.close();
    }
  });

  it("applies an edited policy to the next frame of an open connection; a broken edit keeps the policy in force", async () => {
    const client = await WsTestClient.connect(node.wsUrl, { token: await token("greta", "guest") });
    try {
      expect((await client.chat("e1", "hello")).end).toMatchObject({ type: "error", code: "forbidden" });
      await edit(policyText("[http, websocket]"));
      expect((await client.chat("e2", "hello")).end.type).toBe("finish");
      const inForce = node.daemon.policy.current();
      const broken = policyText("websocket");
      fs.writeFileSync(file, broken);
      await until(() => node.daemon.policy.refused?.digest === policyDigest(broken), "the broken edit to be refused");
      expect(node.daemon.policy.refused?.problem).toBe(`${file}: roles.guest.gateways: expected array, got string`);
      expect(node.daemon.policy.current()).toBe(inForce);
      expect((await client.chat("e3", "hello")).end.type).toBe("finish");
      await edit(policyText("[http]"));
      expect((await client.chat("e4", "hello")).end).toMatchObject({ type: "error", code: "forbidden" });
    } finally {
      client.close();
    }
  });

  it("rolls the WebSocket gateway out in stages: internal roles, then a stable share of the others, then everyone", async () => {
    const visitors = Array.from({ length: 12 }, (_, index) => `visitor-${index}`);
    const outcomes = async (): Promise<Map<string, string>> => {
      const result = new Map<string, string>();
      for (const subject of visitors) {
        const client = await WsTestClient.connect(node.wsUrl, { token: await token(subject, "visitor") });
        try {
          const { end } = await client.chat("r", "hello");
          result.set(subject, end.type === "finish" ? "served" : String(end.code));
        } finally {
          client.close();
        }
      }
      return result;
    };
    await edit(policyText("[http]", "rollout: {websocket: {stage: internal, allow_roles: [doctor]}}"));
    expect([...(await outcomes()).values()].every((outcome) => outcome === "forbidden")).toBe(true);
    const staff = await WsTestClient.connect(node.wsUrl, { token: await token("dirk", "doctor") });
    try {
      expect((await staff.chat("s1", "hello")).end.type).toBe("finish");
    } finally {
      staff.close();
    }
    await edit(policyText("[http]", "rollout: {websocket: {stage: limited, allow_roles: [doctor], percent: 50}}"));
    const limited = await outcomes();
    const rollout = { stage: "limited" as const, allow_roles: ["doctor"], percent: 50 };
    for (const subject of visitors) expect(limited.get(subject)).toBe(rolloutAdmits(rollout, subject, ["visitor"]) ? "served" : "forbidden");
    expect(new Set(limited.values())).toEqual(new Set(["served", "forbidden"]));
    await edit(policyText("[http]", "rollout: {websocket: {stage: all}}"));
    expect([...(await outcomes()).values()].every((outcome) => outcome === "served")).toBe(true);
  });

  it("records refusals with their code and every policy change with its versions in the audit ledger", () => {
    const rows = node.daemon.database.prepare("SELECT kind, body FROM audit_records ORDER BY sequence").all() as { kind: string; body: string }[];
    const bodies: Record<string, unknown>[] = rows.map((row) => ({ kind: row.kind, ...(JSON.parse(row.body) as Record<string, unknown>) }));
    const refusals = bodies.filter((body) => body.kind === "request" && (body.outcome === "forbidden" || body.outcome === "rate_limited"));
    expect(refusals).toContainEqual(expect.objectContaining({ subject: "gina", gateway: "websocket", outcome: "forbidden", error_code: "forbidden" }));
    expect(refusals).toContainEqual(expect.objectContaining({ subject: "ivan", outcome: "rate_limited", error_code: "rate_limited" }));
    expect(refusals).toContainEqual(expect.objectContaining({ subject: "gus", gateway: "http", outcome: "rate_limited" }));
    const reloads = bodies.filter((body) => body.kind === "config_reload");
    // The start, then one per accepted edit (the broken one is not a change).
    expect(reloads).toHaveLength(6);
    expect(reloads[0]).toMatchObject({ what: "security_policy", source: "file", file, policy_sm3: policyDigest(policyText("[http]")), previous_sm3: null });
    expect(reloads[1]).toMatchObject({ source: "file", policy_sm3: policyDigest(policyText("[http, websocket]")), previous_sm3: reloads[0]?.policy_sm3 });
    expect(reloads.at(-1)).toMatchObject({ policy_sm3: policyDigest(policyText("[http]", "rollout: {websocket: {stage: all}}")) });
    expect(reloads.every((reload) => reload.by === `uid ${process.getuid?.()}`)).toBe(true);
  });
});

describe("without a policy file", () => {
  it("allows every verified caller everything, as before permissions existed", async () => {
    const node = await startTestNode({ agent: { engine: "echo" } });
    try {
      expect(node.daemon.policy.current()).toBeUndefined();
      const client = await WsTestClient.connect(node.wsUrl, { token: await token("nobody") });
      try {
        expect((await client.chat("1", longMessage, { max_tokens: 100, seed: 3 })).end).toMatchObject({ type: "finish", finish_reason: "stop" });
      } finally {
        client.close();
      }
    } finally {
      await node.close();
    }
  });
});
