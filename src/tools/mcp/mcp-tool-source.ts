// The tools of every configured MCP server (config `tools.mcp_servers`) as one ToolSource, named `server.tool`.
import type { McpServerConfig } from "../../config/tools-schema.js";
import type { Logger } from "../../logging/logger.js";
import type { NodeTool, ToolServerStatus, ToolSource } from "../tool-types.js";
import { McpConnection, type RetryOptions } from "./mcp-connection.js";


export interface McpToolSourceOptions {
  logger: Logger;
  /** Folder relative stdio `cwd`s are taken from: the config file's. */
  baseDir: string;
  /** Reconnection delays; default 1 s doubling to 30 s, back to 1 s after 30 s connected. */
  retry?: Partial<RetryOptions>;
  /** How often HTTP servers are pinged to notice one went away; default 15 s (0: never). */
  pingIntervalMs?: number;
  /** Milliseconds a handshake, a tool listing or a ping may take; default 15 s. */
  requestTimeoutMs?: number;
}

export class McpToolSource implements ToolSource {
  private readonly connections: McpConnection[];
  private readonly listeners = new Set<() => void>();
  private current: readonly NodeTool[] = [];

  private constructor(servers: readonly McpServerConfig[], private readonly options: McpToolSourceOptions) {
    const retry: RetryOptions = { firstDelayMs: 1000, maxDelayMs: 30_000, stableMs: 30_000, ...options.retry };
    this.connections = servers.map(
      (server) =>
        new McpConnection(server, {
          logger: options.logger,
          baseDir: options.baseDir,
          retry,
          pingIntervalMs: options.pingIntervalMs ?? 15_000,
          requestTimeoutMs: options.requestTimeoutMs ?? 15_000,
          onChange: () => this.changed(),
        }),
    );
  }

  /**
   * Starts connecting to every server in the background and returns at once: a slow or broken server never holds up
   * the node. Each server's tools appear when it is connected (listeners of `onChange` are told).
   */
  static start(servers: readonly McpServerConfig[], options: McpToolSourceOptions): McpToolSource {
    const source = new McpToolSource(servers, options);
    for (const connection of source.connections) connection.start();
    return source;
  }

  /** The connected servers' tools, in config order. */
  tools(): readonly NodeTool[] {
    return this.current;
  }

  onChange(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** One status per configured server, in config order (for `/readyz`). */
  status(): ToolServerStatus[] {
    return this.connections.map((connection) => connection.status());
  }

  /** Stops all retries and closes every connection; stdio children are ended. */
  async close(): Promise<void> {
    await Promise.allSettled(this.connections.map((connection) => connection.close()));
    this.listeners.clear();
  }

  private changed(): void {
    this.current = this.connections.flatMap((connection) => connection.tools());
    for (const listener of [...this.listeners]) {
      try {
        listener();
      } catch (error) {
        this.options.logger.error({ err: error }, "a listener of the MCP tool list failed");
      }
    }
  }
}
