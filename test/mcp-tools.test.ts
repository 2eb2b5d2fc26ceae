// MCP tools with real servers (official SDK): a stdio child and a streamable HTTP server; discovery, calls, errors, restarts, list changes.
import { randomUUID } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import { createServer, type Server as HttpServer } from "node:http";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { Server } from "@modelcontextprotocol/sdk/server/index.js";
import { StreamableHTTPServerTransport } from "@modelcontextprotocol/sdk/server/streamableHttp.js";
import { CallToolRequestSchema, ErrorCode, ListToolsRequestSchema, McpError, type CallToolResult } from "@modelcontextprotocol/sdk/types.js";
import pino from "pino";
import { afterEach, describe, expect, it } from "vitest";
import { agentSchema, toolsSchema } from "../src/config/schema.js";
import type { McpServerConfig } from "../src/config/tools-schema.js";
import type { StreamPart } from "../src/core/types.js";
import { EchoEngine } from "../src/engine/echo/echo-engine.js";
import { silentLogger } from "../src/logging/logger.js";
import { Pipeline } from "../src/pipeline/pipeline.js";
import { openMemoryDatabase } from "../src/store/database.js";
import { SessionRepository } from "../src/store/session-repository.js";
import { resultText } from "../src/tools/mcp/mcp-result-text.js";
import { McpToolSource, type McpToolSourceOptions } from "../src/tools/mcp/mcp-tool-source.js";
import { ToolRegistry } from "../src/tools/tool-registry.js";
import type { ToolRunContext } from "../src/tools/tool-types.js";
import { freePort } from "./helpers/free-port.js";

const testDir = path.dirname(fileURLToPath(import.meta.url));
const stdioServer = path.join(testDir, "fixtures", "mcp-stdio-server.mjs");

const stdioConfig = (overrides: Record<string, unknown> = {}): McpServerConfig =>
  toolsSchema.parse({ mcp_servers: [{ name: "local", command: process.execPath, args: [stdioServer], ...overrides }] }).mcp_servers[0]!;
const httpConfig = (port: number, overrides: Record<string, unknown> = {}): McpServerConfig =>
  toolsSchema.parse({ mcp_servers: [{ name: "remote", url: `http://127.0.0.1:${port}/mcp`, ...overrides }] }).mcp_servers[0]!;

/** A logger whose lines the test reads. */
function capturingLogger() {
  const lines: { level: number; msg: string; mcpServer?: string }[] = [];
  const logger = pino({ level: "debug" }, { write: (line: string) => void lines.push(JSON.parse(line) as (typeof lines)[number]) });
  const warnings = (server: string) => lines.filter((line) => line.level === 40 && line.mcpServer === server);
  return { logger, lines, warnings };
}

/** Polls `check` until it returns something other than undefined/false; fails naming `what` after the deadline. */
async function until<T>(what: string, check: () => T | undefined | false | Promise<T | undefined | false>, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

function runContext(signal: AbortSignal = new AbortController().signal): ToolRunContext {
  return { principal: { subject: "alice", roles: [], scopes: [], claims: {} }, requestId: "r1", gateway: "test", session: undefined, agent: "default", collections: "*", signal };
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

interface TestTool {
  description: string;
  inputSchema: Record<string, unknown>;
  handler: (args: Record<string, unknown>, signal: AbortSignal) => Promise<CallToolResult>;
}

/**
 * A streamable HTTP MCP server (official SDK, low-level `Server` so it can page its tool list one tool a page) on
 * 127.0.0.1:port, one SDK server per session. `addTool` adds a tool at run time and notifies every session.
 */
async function startHttpServer(port: number) {
  const tools = new Map<string, TestTool>([
    ["multiply", { description: "Multiplies two numbers", inputSchema: { type: "object", properties: { a: { type: "number" }, b: { type: "number" } }, required: ["a", "b"] }, handler: async (args) => ({ content: [{ type: "text", text: String(Number(args.a) * Number(args.b)) }] }) }],
    ["fail", { description: "Always reports an error", inputSchema: { type: "object", properties: {} }, handler: async () => ({ isError: true, content: [{ type: "text", text: "the printer is on fire" }] }) }],
    [
      "wait",
      {
        description: "Answers when the call is cancelled",
        inputSchema: { type: "object", properties: {} },
        handler: (_args, signal) => {
          waiting += 1;
          return new Promise((resolve) => signal.addEventListener("abort", () => {
            cancelled += 1;
            resolve({ content: [{ type: "text", text: "cancelled" }] });
          }));
        },
      },
    ],
  ]);
  let waiting = 0;
  let cancelled = 0;
  let listPages = 0;
  const sessions = new Map<string, { server: Server; transport: StreamableHTTPServerTransport }>();
  const newServer = () => {
    const server = new Server({ name: "test-http", version: "1.0.0" }, { capabilities: { tools: { listChanged: true } } });
    server.setRequestHandler(ListToolsRequestSchema, async (request) => {
      listPages += 1;
      const all = [...tools.entries()];
      const start = Number(request.params?.cursor ?? 0);
      const page = all.slice(start, start + 1).map(([name, tool]) => ({ name, description: tool.description, inputSchema: tool.inputSchema as { type: "object" } }));
      return { tools: page, ...(start + 1 < all.length ? { nextCursor: String(start + 1) } : {}) };
    });
    server.setRequestHandler(CallToolRequestSchema, async (request, extra) => {
      const tool = tools.get(request.params.name);
      if (!tool) throw new McpError(ErrorCode.InvalidParams, `no tool ${request.params.name}`);
      return tool.handler(request.params.arguments ?? {}, extra.signal);
    });
    return server;
  };
  const http: HttpServer = createServer((request, response) => {
    void (async () => {
      const id = request.headers["mcp-session-id"];
      let session = typeof id === "string" ? sessions.get(id) : undefined;
      if (!session) {
        if (id !== undefined) return void response.writeHead(404).end();
        const transport: StreamableHTTPServerTransport = new StreamableHTTPServerTransport({
          sessionIdGenerator: randomUUID,
          onsessioninitialized: (sessionId) => void sessions.set(sessionId, { server, transport }),
        });
        const server = newServer();
        await server.connect(transport);
        session = { server, transport };
      }
      await session.transport.handleRequest(request, response);
    })().catch(() => response.destroy());
  });
  await new Promise<void>((resolve, reject) => {
    http.once("error", reject);
    http.listen(port, "127.0.0.1", resolve);
  });
  return {
    get waiting() {
      return waiting;
    },
    get cancelled() {
      return cancelled;
    },
    get listPages() {
      return listPages;
    },
    async addTool(name: string, tool: TestTool) {
      tools.set(name, tool);
      await Promise.all([...sessions.values()].map(({ server }) => server.sendToolListChanged()));
    },
    async close() {
      await Promise.allSettled([...sessions.values()].map(({ server }) => server.close()));
      sessions.clear();
      http.closeAllConnections();
      await new Promise<void>((resolve) => http.close(() => resolve()));
    },
  };
}

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!().catch(() => undefined);
});

function startSource(servers: McpServerConfig[], options: Partial<McpToolSourceOptions> = {}) {
  const source = McpToolSource.start(servers, { logger: silentLogger, baseDir: testDir, ...options });
  cleanups.push(() => source.close());
  return source;
}

describe("MCP tools over stdio", () => {
  it("discovers the tools as server.tool, calls them in a child with a minimal environment, and restarts it after a crash", async () => {
    process.env.CLAWBOT_TEST_SECRET = "hunter2";
    cleanups.push(async () => delete process.env.CLAWBOT_TEST_SECRET);
    const { logger, warnings } = capturingLogger();
    const source = startSource([stdioConfig({ env: { MCP_TEST_VALUE: "passed" }, cwd: "fixtures", confirm: ["crash"] })], { logger });
    const counts: number[] = [];
    source.onChange(() => counts.push(source.tools().length));

    const tools = await until("the stdio tools", () => source.tools().length === 3 && source.tools());
    expect(tools.map((tool) => tool.name).sort()).toEqual(["local.add", "local.crash", "local.process_info"]);
    const add = tools.find((tool) => tool.name === "local.add")!;
    expect(add).toMatchObject({ source: "mcp:local", confirm: false, description: "Adds two numbers", parameters: { type: "object", properties: { a: { type: "number" }, b: { type: "number" } } } });
    expect(add.parameters).not.toHaveProperty("$schema");
    expect(tools.find((tool) => tool.name === "local.crash")?.confirm).toBe(true);
    expect(await add.run({ a: 2, b: 3 }, runContext())).toBe("5");
    expect(source.status()).toEqual([{ name: "local", transport: "stdio", connected: true, tools: 3, lastError: undefined, failures: 0 }]);

    const info = async () => JSON.parse(String(await source.tools().find((tool) => tool.name === "local.process_info")!.run({}, runContext()))) as { pid: number; environment: string[]; cwd: string };
    const first = await info();
    expect(first.environment).toContain("MCP_TEST_VALUE");
    expect(first.environment).toContain("PATH");
    expect(first.environment).not.toContain("CLAWBOT_TEST_SECRET");
    expect(first.cwd).toBe(path.join(testDir, "fixtures"));

    // The crash ends the child: the call fails, the tools go, a warning names the server and why, and it comes back.
    await expect(tools.find((tool) => tool.name === "local.crash")!.run({}, runContext())).rejects.toThrow();
    await until("the tools to come back after the crash", () => counts.includes(0) && source.tools().length === 3);
    expect(counts.slice(counts.indexOf(0))).toEqual([0, 3]);
    expect(warnings("local")).toHaveLength(1);
    expect(warnings("local")[0]!.msg).toMatch(/MCP server "local" is unavailable: the process exited \(stderr: crashing on request\); retrying in 1\.0 s/);
    expect(source.status()[0]).toMatchObject({ connected: true, tools: 3, failures: 1, lastError: expect.stringContaining("crashing on request") });
    const second = await info();
    expect(second.pid).not.toBe(first.pid);
    expect(processAlive(first.pid)).toBe(false);
    expect(await source.tools().find((tool) => tool.name === "local.add")!.run({ a: 40, b: 2 }, runContext())).toBe("42");

    // close() ends the child and stops retrying: no tools, nothing comes back.
    await source.close();
    await until("the child to be gone", () => !processAlive(second.pid));
    expect(source.tools()).toEqual([]);
    expect(source.status()[0]).toMatchObject({ connected: false });
  });

  it("does not hold up start for a server that cannot start; it is logged once and retried", async () => {
    const { logger, warnings } = capturingLogger();
    const source = startSource([stdioConfig({ command: path.join(testDir, "fixtures", "no-such-mcp-server") })], { logger });
    expect(source.tools()).toEqual([]);
    expect(source.status()[0]).toMatchObject({ connected: false, lastError: undefined });
    await until("two failed attempts", () => source.status()[0]!.failures >= 2);
    expect(source.status()[0]!.lastError).toMatch(/ENOENT/);
    expect(warnings("local")).toHaveLength(1);
    expect(source.tools()).toEqual([]);
  });

  it("close() ends a child that never finished the handshake", async () => {
    const pidFile = path.join(os.tmpdir(), `mcp-silent-${randomUUID()}.pid`);
    cleanups.push(() => fs.promises.rm(pidFile, { force: true }));
    const silent = 'require("node:fs").writeFileSync(process.argv[1], String(process.pid)); setInterval(() => {}, 1000);';
    // The handshake's own timeout is far off: only close() can end the child within the deadline below.
    const source = startSource([stdioConfig({ args: ["-e", silent, pidFile] })], { requestTimeoutMs: 600_000 });
    const pid = await until("the silent child to start", () => fs.existsSync(pidFile) && Number(fs.readFileSync(pidFile, "utf8")));
    expect(processAlive(pid)).toBe(true);
    expect(source.status()[0]).toMatchObject({ connected: false });
    await source.close();
    await until("the silent child to be gone", () => !processAlive(pid), 10_000);
  });
});

describe("MCP tools over streamable HTTP", () => {
  it("follows the listing's cursors, calls, throws on isError, cancels with the signal, and follows list changes", async () => {
    const port = await freePort();
    const server = await startHttpServer(port);
    cleanups.push(() => server.close());
    const source = startSource([httpConfig(port, { confirm: ["remote.fail"] })]);
    const tools = await until("the HTTP tools", () => source.tools().length === 3 && source.tools());
    expect(tools.map((tool) => tool.name)).toEqual(["remote.multiply", "remote.fail", "remote.wait"]);
    expect(server.listPages).toBeGreaterThanOrEqual(3);
    expect(tools.map((tool) => tool.confirm)).toEqual([false, true, false]);
    expect(tools.every((tool) => tool.source === "mcp:remote")).toBe(true);
    expect(await tools[0]!.run({ a: 6, b: 7 }, runContext())).toBe("42");
    await expect(tools[1]!.run({}, runContext())).rejects.toThrow("the printer is on fire");

    const controller = new AbortController();
    const waiting = tools[2]!.run({}, runContext(controller.signal));
    await until("the wait call to reach the server", () => server.waiting === 1);
    controller.abort();
    await expect(waiting).rejects.toThrow();
    await until("the server to see the cancellation", () => server.cancelled === 1);

    let changes = 0;
    source.onChange(() => (changes += 1));
    await server.addTool("bad name!", { description: "A name no model API takes", inputSchema: { type: "object" }, handler: async () => ({ content: [] }) });
    await server.addTool("divide", { description: "Divides", inputSchema: { type: "object", properties: { a: { type: "number" }, b: { type: "number" } } }, handler: async (args) => ({ content: [{ type: "text", text: String(Number(args.a) / Number(args.b)) }] }) });
    const divide = await until("the added tool", () => source.tools().find((tool) => tool.name === "remote.divide"));
    expect(changes).toBeGreaterThanOrEqual(1);
    expect(source.tools().map((tool) => tool.name)).toEqual(["remote.multiply", "remote.fail", "remote.wait", "remote.divide"]);
    expect(await divide.run({ a: 1, b: 4 }, runContext())).toBe("0.25");
    expect(source.status()).toEqual([{ name: "remote", transport: "http", connected: true, tools: 4, lastError: undefined, failures: 0 }]);
  });

  it("retries a server that is down at start and connects once it is up", async () => {
    const port = await freePort();
    const { logger, warnings } = capturingLogger();
    const source = startSource([httpConfig(port)], { logger });
    await until("two failed attempts", () => source.status()[0]!.failures >= 2);
    expect(source.status()[0]).toMatchObject({ connected: false, tools: 0, lastError: expect.stringMatching(/ECONNREFUSED|fetch failed/) });
    expect(warnings("remote")).toHaveLength(1);
    const server = await startHttpServer(port);
    cleanups.push(() => server.close());
    await until("the tools once the server is up", () => source.tools().length === 3);
    expect(source.status()[0]).toMatchObject({ connected: true, tools: 3 });
  });

  it("notices a server that went away (ping), drops its tools, and reconnects when it is back", async () => {
    const port = await freePort();
    let server = await startHttpServer(port);
    cleanups.push(() => server.close());
    const source = startSource([httpConfig(port)], { pingIntervalMs: 100 });
    await until("the HTTP tools", () => source.tools().length === 3);
    await server.close();
    await until("the tools to go", () => source.tools().length === 0);
    expect(source.status()[0]).toMatchObject({ connected: false, lastError: expect.stringContaining("ping failed") });
    server = await startHttpServer(port);
    await until("the tools to come back", () => source.tools().length === 3);
    expect(await source.tools()[0]!.run({ a: 3, b: 3 }, runContext())).toBe("9");
  });
});

describe("MCP results", () => {
  it("joins text parts and describes the others briefly", () => {
    const png = Buffer.alloc(1234).toString("base64");
    expect(resultText({ content: [{ type: "text", text: "a chart:" }, { type: "image", data: png, mimeType: "image/png" }] })).toBe("a chart:\n[image/png, 1234 bytes]");
    expect(resultText({ content: [{ type: "resource", resource: { uri: "file:///x.txt", text: "inside" } }, { type: "resource_link", uri: "file:///y", name: "y" }] })).toBe("inside\n[resource file:///y]");
    expect(resultText({ content: [], structuredContent: { total: 3 } })).toBe('{"total":3}');
    expect(() => resultText({ content: [{ type: "text", text: "no such city" }], isError: true })).toThrow("no such city");
  });
});

describe("MCP tools in the agent loop", () => {
  it("runs local.add through the pipeline with the echo engine; the tool result holds the sum", async () => {
    const source = startSource([stdioConfig()]);
    await until("the stdio tools", () => source.tools().length === 3);
    const pipeline = new Pipeline({
      agent: agentSchema.parse({ engine: "echo", max_tokens: 4000 }),
      engine: new EchoEngine({ parallel: 2, maxQueue: 4, contextSize: 8192 }),
      sessions: new SessionRepository(openMemoryDatabase()),
      logger: silentLogger,
      tools: new ToolRegistry([source]),
      toolsConfig: toolsSchema.parse({}),
    });
    const parts: StreamPart[] = [];
    await pipeline.handle(
      { id: "r1", principal: { subject: "alice", roles: [], scopes: [], claims: {} }, gateway: "websocket", message: 'please add {"a": 2, "b": 3}', toolChoice: { name: "local.add" } },
      { write: (part) => void parts.push(part) },
    );
    expect(parts.find((part) => part.type === "tool-call")).toMatchObject({ call: { name: "local.add", arguments: '{"a":2,"b":3}' } });
    expect(parts.find((part) => part.type === "tool-result")).toMatchObject({ name: "local.add", outcome: "ok", content: "5" });
    expect(parts[parts.length - 1]).toMatchObject({ type: "finish" });
  });
});
