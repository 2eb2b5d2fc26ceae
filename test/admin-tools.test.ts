// GET /admin/tools and /readyz on a real node with a plugin's tools, a built-in, a working MCP stdio server and a broken one.
import path from "node:path";
import { SignJWT } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestNode, testSecret, type TestNode } from "./helpers/test-node.js";

const wardTools = { path: path.resolve("test/fixtures/plugins/ward-tools-plugin.ts") };
const stdioServer = path.resolve("test/fixtures/mcp-stdio-server.mjs");

async function adminToken(subject = "ops-admin", claims: Record<string, unknown> = { scope: "openid admin" }): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT(claims).setProtectedHeader({ alg: "HS256" }).setSubject(subject).setIssuedAt(now).setExpirationTime(now + 3600).sign(new TextEncoder().encode(testSecret));
}

/** Polls `read` until `done` holds for its value (an MCP server connects in the background). */
async function until<T>(what: string, read: () => Promise<T>, done: (value: T) => boolean, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (done(value)) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}: last ${JSON.stringify(value).slice(0, 500)}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = any;

describe("GET /admin/tools and /readyz with MCP servers", () => {
  let node: TestNode;
  let token: string;

  const get = async (route: string, bearer: string | null = token): Promise<{ status: number; body: Json }> => {
    const response = await fetch(`${node.httpUrl}${route}`, { headers: bearer ? { authorization: `Bearer ${bearer}` } : {} });
    return { status: response.status, body: await response.json() };
  };

  beforeAll(async () => {
    node = await startTestNode({
      agent: { engine: "echo" },
      plugins: [wardTools],
      tools: {
        http_request: { enabled: true, allow: [{ prefix: "http://127.0.0.1:9/api/", methods: ["GET", "POST"] }] },
        mcp_servers: [
          { name: "local", command: process.execPath, args: [stdioServer], confirm: ["crash"] },
          // A server that can never start: retried in the background, never connected.
          { name: "broken", command: path.resolve("test/fixtures/no-such-mcp-server") },
        ],
      },
    });
    token = await adminToken();
  });

  afterAll(async () => {
    await node?.close();
  });

  it("needs a token (401) whose scope holds admin (403)", async () => {
    expect(await get("/admin/tools", null)).toMatchObject({ status: 401, body: { error: { code: "unauthorized" } } });
    expect(await get("/admin/tools", await node.token("alice"))).toMatchObject({ status: 403, body: { error: { code: "forbidden" } } });
    expect(await get("/admin/tools", await adminToken("ops-2", { scope: "openid" }))).toMatchObject({ status: 403, body: { error: { code: "forbidden" } } });
    expect((await get("/admin/tools", await adminToken("ops-3", { scopes: ["admin"] }))).status).toBe(200);
    expect(await get("/admin/tools?verbose=1")).toMatchObject({ status: 400, body: { error: { code: "bad_request" } } });
  });

  it("lists the built-in, the plugin's tools and, once connected, the MCP server's, with each server's state", async () => {
    const { body } = await until(
      "the local MCP server's tools",
      () => get("/admin/tools"),
      (answer) => answer.status === 200 && answer.body.tools.some((tool: Json) => tool.name === "local.add") && answer.body.mcp_servers[1]?.failures > 0,
    );
    const names = body.tools.map((tool: Json) => tool.name);
    expect(names).toEqual(["free_beds", "http_request", "local.add", "local.crash", "local.process_info", "page_doctor"]);
    const byName = Object.fromEntries(body.tools.map((tool: Json) => [tool.name, tool]));
    expect(byName.free_beds).toEqual({
      name: "free_beds",
      source: "plugin:ward-tools",
      confirm: false,
      description: "How many beds are free on a ward.",
      parameters: { type: "object", properties: { ward: { type: "string", enum: ["ward-1", "ward-2", "icu"] } }, required: ["ward"], additionalProperties: false },
    });
    expect(byName.page_doctor).toMatchObject({ source: "plugin:ward-tools", confirm: true });
    // The built-in decides per call (a write needs approval, a read does not).
    expect(byName.http_request).toMatchObject({ source: "builtin", confirm: "per call" });
    expect(byName["local.add"]).toMatchObject({ source: "mcp:local", confirm: false, description: "Adds two numbers" });
    expect(byName["local.add"].parameters).toMatchObject({ type: "object", properties: { a: { type: "number" }, b: { type: "number" } } });
    expect(byName["local.crash"]).toMatchObject({ source: "mcp:local", confirm: true });

    const [local, broken] = body.mcp_servers;
    expect(local).toEqual({ name: "local", transport: "stdio", connected: true, tools: 3, last_error: null, failures: 0 });
    expect(broken).toMatchObject({ name: "broken", transport: "stdio", connected: false, tools: 0 });
    expect(broken.last_error).toEqual(expect.any(String));
    expect(body.mcp_servers).toHaveLength(2);
  });

  it("reports the MCP servers in /readyz as information: one away leaves the node ready", async () => {
    const ready = await until("the local server in /readyz", () => get("/readyz", null), (answer) => answer.body.mcp_servers?.[0]?.connected === true);
    expect(ready.status).toBe(200);
    expect(ready.body.status).toBe("ready");
    expect(ready.body).not.toHaveProperty("degraded_gateways");
    expect(ready.body.mcp_servers).toEqual([
      { name: "local", transport: "stdio", connected: true, tools: 3, last_error: null, failures: 0 },
      expect.objectContaining({ name: "broken", transport: "stdio", connected: false, tools: 0, last_error: expect.any(String) }),
    ]);
  });
});
