// What the admin HTTP API acts on (the daemon supplies it): the policy, the session listing, revocation, erasure, the tools and the console's status.
import type { SessionPage, SessionPageRequest } from "../../store/session-listing.js";

/** The current permission policy and how to change it (the node's PolicyStore). */
export interface AdminPolicy {
  /** The policy in force, as JSON (its document, digest and origin); undefined when the node has none. */
  current(): Record<string, unknown> | undefined;
  /** Validates and applies a new policy text (YAML or JSON); throws `bad_request` naming the problem. Audited with `by`. */
  replace(text: string, by: string): Promise<Record<string, unknown>> | Record<string, unknown>;
}

/** A revocation as the admin asked for it: one token id, or every token of a subject issued until now. */
export type RevocationRequest = { jti: string; subject?: undefined; expiresAt?: number } | { subject: string; jti?: undefined; expiresAt?: number };

/** One node-side tool as `GET /admin/tools` lists it. */
export interface AdminToolEntry {
  name: string;
  /** `builtin`, `plugin:<name>` or `mcp:<server>`. */
  source: string;
  /** Whether each call needs the client's approval; "per call" when the tool decides from its arguments. */
  confirm: boolean | "per call";
  description: string;
  parameters: Record<string, unknown>;
}

/** One configured MCP server as `GET /admin/tools` and `/readyz` show it. */
export interface AdminToolServer {
  name: string;
  transport: "stdio" | "http";
  connected: boolean;
  tools: number;
  last_error: string | null;
  failures: number;
}

/** What `GET /admin/tools` answers: every tool the node could offer now, and its MCP servers' state. */
export interface AdminToolListing {
  tools: AdminToolEntry[];
  mcp_servers: AdminToolServer[];
}

export interface AdminServices {
  /** Absent until the node has a policy store. */
  policy?: AdminPolicy;
  listSessions(request: SessionPageRequest): SessionPage;
  /** Revokes and audits (`token_revocation`); returns what to answer. */
  revoke(request: RevocationRequest, by: string): Record<string, unknown>;
  /** Erases a data subject (PIPL) and writes the `erasure` tombstone; returns what to answer. */
  erase(subject: string, by: string): Record<string, unknown>;
  /** Every node-side tool now (built-ins, plugins, connected MCP servers) and each MCP server's state. */
  listTools(): AdminToolListing;
  /** What the operator console shows (`GET /admin/status`, docs/console.md); absent: the route answers 404 not_found. */
  status?(): Promise<Record<string, unknown>>;
}
