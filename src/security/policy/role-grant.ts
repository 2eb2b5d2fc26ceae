// What a principal may do under a policy: its known roles merged, each grant the most generous of them.
import type { Policy } from "./policy-loader.js";
import type { RolePolicy } from "./policy-schema.js";

/** A list grant: `"*"` (everything) or exactly these names. */
export type Grant = "*" | ReadonlySet<string>;

export interface RoleGrant {
  /** The principal's roles the policy knows, sorted; the rest grant nothing. */
  roles: string[];
  gateways: Grant;
  params: Grant;
  collections: Grant;
  tools: Grant;
  agents: Grant;
  /** Undefined: no cap beyond the agent's. */
  maxTokens: number | undefined;
  requestsPerMinute: number | undefined;
  tokensPerMinute: number | undefined;
  concurrency: number | undefined;
  /** Whether answers are watermarked: true when any role asks for it, false when one refuses and none asks; undefined: the node's default. */
  watermark: boolean | undefined;
}

/**
 * Merges the policy's entries for `roles`: lists are united (`"*"` in any wins), limits take the highest value, and a
 * role without a limit lifts it. Undefined when none of the roles is in the policy (default deny).
 */
export function roleGrant(policy: Policy, roles: readonly string[]): RoleGrant | undefined {
  const known = [...new Set(roles)].filter((role) => Object.hasOwn(policy.document.roles, role)).sort();
  if (known.length === 0) return undefined;
  const entries = known.map((role) => policy.document.roles[role] as RolePolicy);
  return {
    roles: known,
    gateways: unite(entries.map((entry) => entry.gateways)),
    params: unite(entries.map((entry) => entry.params)),
    collections: unite(entries.map((entry) => entry.collections)),
    tools: unite(entries.map((entry) => entry.tools)),
    agents: unite(entries.map((entry) => entry.agents)),
    maxTokens: highest(entries.map((entry) => entry.max_tokens)),
    requestsPerMinute: highest(entries.map((entry) => entry.rate.requests_per_minute)),
    tokensPerMinute: highest(entries.map((entry) => entry.rate.tokens_per_minute)),
    concurrency: highest(entries.map((entry) => entry.concurrency)),
    // A role that must be traceable keeps its mark however the principal's other roles are set.
    watermark: entries.some((entry) => entry.watermark === true) ? true : entries.some((entry) => entry.watermark === false) ? false : undefined,
  };
}

export function grants(grant: Grant, name: string): boolean {
  return grant === "*" || grant.has(name);
}

function unite(lists: readonly string[][]): Grant {
  if (lists.some((list) => list.includes("*"))) return "*";
  return new Set(lists.flat());
}

function highest(values: readonly (number | undefined)[]): number | undefined {
  if (values.some((value) => value === undefined)) return undefined;
  return Math.max(...(values as number[]));
}
