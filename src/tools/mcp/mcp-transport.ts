// Builds the MCP client transport for one configured server: a child process on stdio, or a streamable HTTP URL.
import path from "node:path";
import type { Transport } from "@modelcontextprotocol/sdk/shared/transport.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import type { McpServerConfig } from "../../config/tools-schema.js";

/** The variables of the node's own environment a stdio server gets (the rest may hold secrets). */
export const passedEnvironment = ["PATH", "HOME", "LANG"] as const;

/**
 * A stdio server's environment: PATH, HOME and LANG from the node's, plus the server's configured `env`.
 * (The SDK adds its own short safe list on top: LOGNAME, SHELL, TERM, USER.)
 */
export function serverEnvironment(configured: Record<string, string>, from: NodeJS.ProcessEnv = process.env): Record<string, string> {
  const environment: Record<string, string> = {};
  for (const name of passedEnvironment) {
    const value = from[name];
    if (value !== undefined) environment[name] = value;
  }
  return { ...environment, ...configured };
}

/** A transport not yet started, and for stdio the child's stderr (piped, so the node can log why it failed). */
export interface CreatedTransport {
  transport: Transport;
  kind: "stdio" | "http";
  /** The child's stderr for a stdio server, available before it starts. */
  stderr: NodeJS.ReadableStream | undefined;
}

/** The transport for `server`; a relative stdio `cwd` is taken from `baseDir` (the config file's folder). */
export function createTransport(server: McpServerConfig, baseDir: string): CreatedTransport {
  if ("command" in server) {
    const transport = new StdioClientTransport({
      command: server.command,
      args: server.args,
      env: serverEnvironment(server.env),
      cwd: path.resolve(baseDir, server.cwd ?? "."),
      stderr: "pipe",
    });
    return { transport, kind: "stdio", stderr: (transport.stderr as NodeJS.ReadableStream | null) ?? undefined };
  }
  const transport = new StreamableHTTPClientTransport(new URL(server.url), { requestInit: { headers: server.headers } });
  return { transport, kind: "http", stderr: undefined };
}
