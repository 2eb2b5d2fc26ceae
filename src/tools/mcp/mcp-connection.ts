// One MCP server the node is a client of: connects, lists its tools, follows list changes, and reconnects with backoff when it fails.
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { McpError, ToolListChangedNotificationSchema, type Tool } from "@modelcontextprotocol/sdk/types.js";
import { toolNamePattern, type McpServerConfig } from "../../config/tools-schema.js";
import type { Logger } from "../../logging/logger.js";
import type { NodeTool, ToolServerStatus } from "../tool-types.js";
import { resultText } from "./mcp-result-text.js";
import { createTransport } from "./mcp-transport.js";

/** Reconnection delays: `firstDelayMs` doubling up to `maxDelayMs`; back to the first after `stableMs` connected. */
export interface RetryOptions {
  firstDelayMs: number;
  maxDelayMs: number;
  stableMs: number;
}

export interface McpConnectionOptions {
  logger: Logger;
  /** Folder relative stdio `cwd`s are taken from (the config file's). */
  baseDir: string;
  retry: RetryOptions;
  /** How often an HTTP server is pinged so the node notices it went away (0: never). Stdio children are watched anyway. */
  pingIntervalMs: number;
  /** Milliseconds the connection handshake, a tool listing or a ping may take. */
  requestTimeoutMs: number;
  /** Called whenever this server's tools changed (appeared, disappeared or were re-listed differently). */
  onChange: () => void;
}

/** Most pages one tool listing follows (a server whose cursors never end is cut off here). */
const maxPages = 1000;
/** A tool call is limited by the caller's AbortSignal (config `tools.timeout`); this only bounds the SDK's own timer. */
const callTimeoutMs = 24 * 60 * 60 * 1000;

/** An error's message with its cause's code (`fetch failed (ECONNREFUSED)`). */
function describe(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const cause = error.cause as { code?: unknown; message?: unknown } | undefined;
  const detail = typeof cause?.code === "string" ? cause.code : typeof cause?.message === "string" ? cause.message : undefined;
  return detail && !error.message.includes(detail) ? `${error.message} (${detail})` : error.message;
}

export class McpConnection {
  readonly name: string;
  private readonly kind: "stdio" | "http";
  private readonly confirm: Set<string>;
  private client: Client | undefined;
  /** The client of the attempt in progress (closed too when the connection is closed mid-handshake). */
  private connecting: Client | undefined;
  private current: NodeTool[] = [];
  /** Bumped on every attempt and every loss: callbacks of an older client see a different number and do nothing. */
  private generation = 0;
  private failures = 0;
  /** A failure since the last stable connection was already logged as a warning (the next ones go to debug). */
  private warned = false;
  private lastError: string | undefined;
  private connectedAt: number | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private pingTimer: NodeJS.Timeout | undefined;
  private listing: Promise<void> | undefined;
  private listAgain = false;
  private stderrTail = "";
  /** Tools skipped for their names, warned about once. */
  private readonly skippedNames = new Set<string>();
  private closed = false;

  constructor(
    private readonly server: McpServerConfig,
    private readonly options: McpConnectionOptions,
  ) {
    this.name = server.name;
    this.kind = "command" in server ? "stdio" : "http";
    this.confirm = new Set(server.confirm.map((name) => (name.startsWith(`${server.name}.`) ? name.slice(server.name.length + 1) : name)));
  }

  /** Starts connecting in the background; failures are logged and retried, never thrown. */
  start(): void {
    void this.connect();
  }

  /** The server's tools now (none while it is not connected). */
  tools(): readonly NodeTool[] {
    return this.current;
  }

  status(): ToolServerStatus {
    return { name: this.name, transport: this.kind, connected: this.client !== undefined, tools: this.current.length, lastError: this.lastError, failures: this.failures };
  }

  /** Stops retrying and closes the connection (a stdio child is ended: stdin closed, then SIGTERM, then SIGKILL). */
  async close(): Promise<void> {
    this.closed = true;
    this.generation += 1;
    clearTimeout(this.retryTimer);
    clearInterval(this.pingTimer);
    const clients = new Set([this.client, this.connecting].filter((client) => client !== undefined));
    this.client = undefined;
    this.connecting = undefined;
    const hadTools = this.current.length > 0;
    this.current = [];
    if (hadTools) this.options.onChange();
    await Promise.all([...clients].map((client) => client.close().catch(() => undefined)));
  }

  private async connect(): Promise<void> {
    if (this.closed) return;
    const generation = ++this.generation;
    const { transport, stderr } = createTransport(this.server, this.options.baseDir);
    this.stderrTail = "";
    stderr?.on("data", (chunk: Buffer) => {
      const text = chunk.toString("utf8");
      this.stderrTail = (this.stderrTail + text).slice(-2000);
      this.options.logger.debug({ mcpServer: this.name, stderr: text.trimEnd() }, "MCP server stderr");
    });
    const client = new Client({ name: "clawbot", version: "1.0.0" }, { capabilities: {} });
    // Until the handshake is done a failure surfaces as connect()'s error, which says more than "closed".
    let established = false;
    client.onclose = () => {
      if (established) this.lost(generation, client, this.kind === "stdio" ? this.exitReason() : "the connection closed");
    };
    client.onerror = (error) => {
      if (generation === this.generation) this.options.logger.debug({ mcpServer: this.name, err: describe(error) }, "MCP transport error");
    };
    client.setNotificationHandler(ToolListChangedNotificationSchema, () => {
      if (generation === this.generation && this.client === client) void this.refresh(generation, client);
    });
    this.connecting = client;
    try {
      await client.connect(transport, { timeout: this.options.requestTimeoutMs });
      if (this.connecting === client) this.connecting = undefined;
      if (generation !== this.generation) {
        await client.close().catch(() => undefined);
        return;
      }
      established = true;
      this.client = client;
      this.connectedAt = Date.now();
      await this.refresh(generation, client, true);
      if (generation !== this.generation) return;
      this.options.logger.info({ mcpServer: this.name, tools: this.current.map((tool) => tool.name) }, `MCP server "${this.name}" connected with ${this.current.length} tools`);
      if (this.kind === "http" && this.options.pingIntervalMs > 0) this.watch(generation, client);
    } catch (error) {
      if (this.connecting === client) this.connecting = undefined;
      if (generation !== this.generation) {
        void client.close().catch(() => undefined);
        return;
      }
      this.lost(generation, client, this.kind === "stdio" && this.stderrTail ? `${describe(error)}; ${this.exitReason()}` : describe(error));
    }
  }

  /** Why a stdio child went away: it exited, with the last line it wrote to stderr. */
  private exitReason(): string {
    const lines = this.stderrTail.split("\n").map((line) => line.trim()).filter((line) => line !== "");
    const last = lines[lines.length - 1];
    return last ? `the process exited (stderr: ${last.slice(0, 300)})` : "the process exited";
  }

  /** The connection of `generation` failed or ended: its tools go, it is logged (once a run), and retried later. */
  private lost(generation: number, client: Client, reason: string): void {
    if (generation !== this.generation || this.closed) return;
    this.generation += 1;
    clearInterval(this.pingTimer);
    if (this.connectedAt !== undefined && Date.now() - this.connectedAt >= this.options.retry.stableMs) {
      this.failures = 0;
      this.warned = false;
    }
    this.connectedAt = undefined;
    this.client = undefined;
    this.listing = undefined;
    void client.close().catch(() => undefined);
    const delay = Math.min(this.options.retry.firstDelayMs * 2 ** this.failures, this.options.retry.maxDelayMs);
    this.failures += 1;
    this.lastError = reason;
    const message = `MCP server "${this.name}" is unavailable: ${reason}; retrying in ${(delay / 1000).toFixed(1)} s`;
    if (this.warned) this.options.logger.debug({ mcpServer: this.name, failures: this.failures }, message);
    else this.options.logger.warn({ mcpServer: this.name }, message);
    this.warned = true;
    if (this.current.length > 0) {
      this.current = [];
      this.options.onChange();
    }
    this.retryTimer = setTimeout(() => void this.connect(), delay);
    this.retryTimer.unref();
  }

  /** Pings an HTTP server now and then: a server that went away does not close anything the client would notice. */
  private watch(generation: number, client: Client): void {
    let pinging = false;
    this.pingTimer = setInterval(() => {
      if (pinging) return;
      pinging = true;
      client
        .ping({ timeout: this.options.requestTimeoutMs })
        .catch((error: unknown) => this.lost(generation, client, `ping failed: ${describe(error)}`))
        .finally(() => (pinging = false));
    }, this.options.pingIntervalMs);
    this.pingTimer.unref();
  }

  /** Lists the tools again; calls during a listing are folded into one more listing after it. */
  private refresh(generation: number, client: Client, initial = false): Promise<void> {
    if (this.listing) {
      this.listAgain = true;
      return this.listing;
    }
    let listing: Promise<void> | undefined;
    listing = (async () => {
      try {
        do {
          this.listAgain = false;
          await this.listOnce(generation, client);
        } while (this.listAgain && generation === this.generation);
      } catch (error) {
        if (initial) throw error;
        if (generation === this.generation) this.options.logger.warn({ mcpServer: this.name, err: describe(error) }, `MCP server "${this.name}": listing its tools failed; keeping the previous list`);
      } finally {
        if (this.listing === listing) this.listing = undefined;
      }
    })();
    this.listing = listing;
    return listing;
  }

  private async listOnce(generation: number, client: Client): Promise<void> {
    const found: Tool[] = [];
    let cursor: string | undefined;
    const seen = new Set<string>();
    for (let page = 0; page < maxPages; page += 1) {
      const result = await client.listTools(cursor === undefined ? undefined : { cursor }, { timeout: this.options.requestTimeoutMs });
      found.push(...result.tools);
      cursor = result.nextCursor;
      if (cursor === undefined || seen.has(cursor)) break;
      seen.add(cursor);
    }
    if (generation !== this.generation) return;
    const next = found.flatMap((tool) => this.nodeTool(tool, generation));
    const signature = (tools: readonly NodeTool[]) => JSON.stringify(tools.map((tool) => [tool.name, tool.description, tool.parameters, tool.confirm]));
    const changed = signature(next) !== signature(this.current);
    this.current = next;
    if (changed) this.options.onChange();
  }

  /** The node-side tool for one of the server's (none when its full name is not a valid tool name). */
  private nodeTool(tool: Tool, generation: number): NodeTool[] {
    const name = `${this.name}.${tool.name}`;
    if (!toolNamePattern.test(name)) {
      if (this.skippedNames.has(tool.name)) return [];
      this.skippedNames.add(tool.name);
      this.options.logger.warn({ mcpServer: this.name, tool: tool.name }, `MCP server "${this.name}": tool "${tool.name}" skipped (its name is not a valid tool name)`);
      return [];
    }
    const { $schema: _schema, ...parameters } = tool.inputSchema as Record<string, unknown>;
    return [
      {
        name,
        description: tool.description ?? tool.title ?? "",
        parameters,
        source: `mcp:${this.name}`,
        confirm: this.confirm.has("*") || this.confirm.has(tool.name),
        run: (args, context) => this.call(generation, tool.name, args, context.signal),
      },
    ];
  }

  private async call(generation: number, tool: string, args: Record<string, unknown>, signal: AbortSignal): Promise<string> {
    const client = this.client;
    if (!client || generation !== this.generation) throw new Error(`the MCP server "${this.name}" is not connected`);
    let result: Awaited<ReturnType<Client["callTool"]>>;
    try {
      result = await client.callTool({ name: tool, arguments: args }, undefined, { signal, timeout: callTimeoutMs });
    } catch (error) {
      // A network failure (not an answer from the server) may mean an HTTP server went away: check now.
      if (this.kind === "http" && !(error instanceof McpError) && !signal.aborted && generation === this.generation) {
        client.ping({ timeout: this.options.requestTimeoutMs }).catch((pingError: unknown) => this.lost(generation, client, `ping failed: ${describe(pingError)}`));
      }
      throw error;
    }
    return resultText(result as Parameters<typeof resultText>[0]);
  }
}
