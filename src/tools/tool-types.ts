// What a tool the node runs is: a definition the model sees, where it comes from, and the function that runs it.
import type { Principal, ToolDefinition } from "../core/types.js";

/** Who calls a tool and for which request; `signal` aborts when the call times out or the request is cancelled. */
export interface ToolRunContext {
  principal: Principal;
  /** The client's request id. */
  requestId: string;
  gateway: string;
  session: string | undefined;
  /** The agent the request runs as. */
  agent: string;
  /** Knowledge collections the request may read (the roles' grant and the agent's collections): `*` all. */
  collections: readonly string[] | "*";
  signal: AbortSignal;
}

/** A tool the node itself runs: from a plugin (`api.addTool`), an MCP server (`server.tool`), or built in. */
export interface NodeTool extends ToolDefinition {
  /** Where it comes from, for the audit and `/v1/tools`-style listings: `plugin:<name>`, `mcp:<server>`, `builtin`. */
  source: string;
  /**
   * It writes or sends something: each call needs the client's explicit approval first (WebSocket `tool.approve`).
   * A function decides per call from its validated arguments (e.g. only an HTTP POST).
   */
  confirm: boolean | ((args: Record<string, unknown>) => boolean);
  /**
   * Runs one call with arguments already validated against `parameters`. Returns the result (a string as it is,
   * anything else as JSON); throws to report a failure (its message goes back to the model).
   */
  run(args: Record<string, unknown>, context: ToolRunContext): Promise<unknown>;
}

/** How one server behind a tool source is doing (an MCP server), for `/readyz` and `GET /admin/tools`. */
export interface ToolServerStatus {
  name: string;
  transport: "stdio" | "http";
  connected: boolean;
  /** Tools it offers now (0 while not connected). */
  tools: number;
  /** Why the last attempt failed or the last connection ended; undefined while none has. */
  lastError: string | undefined;
  /** Attempts that failed since the last stable connection. */
  failures: number;
}

/** A set of tools that can change while the node runs (an MCP server's tools come and go). */
export interface ToolSource {
  /** The tools available now. */
  tools(): readonly NodeTool[];
  /** Calls `listener` whenever the list changed; returns the unsubscribe function. */
  onChange?(listener: () => void): () => void;
  /** The servers the tools come from, one status each, when the source has any (MCP servers). */
  status?(): readonly ToolServerStatus[];
  close?(): Promise<void>;
}
