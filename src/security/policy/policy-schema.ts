// The policy file's shape (docs/security.md#permissions): roles → gateways, params, limits, collections, tools, plugins; rollout.
import { z } from "zod";
import { rolloutSchema } from "../../config/schema.js";

/**
 * Request parameters a role may set, by their protocol names. The ordinary sampling settings (temperature, top_p,
 * seed, stop), which OpenAI clients send as a matter of course, are always allowed; max_tokens is governed by
 * `max_tokens`. These change what the node does for the request: another model adapter, a constrained answer, token
 * probabilities.
 */
export const policyParams = ["adapter", "response_format", "logprobs"] as const;
export type PolicyParam = (typeof policyParams)[number];

/** `"*"` alone: everything; a list: exactly those; absent or empty: nothing (default deny). */
const grantList = (allowed?: readonly string[], fallback: string[] = []) =>
  z
    .array(z.string().min(1))
    .default(fallback)
    .superRefine((list, context) => {
      if (list.includes("*") && list.length > 1) context.addIssue({ code: "custom", message: `"*" (everything) must be the only entry` });
      list.forEach((item, index) => {
        if (allowed && item !== "*" && !allowed.includes(item)) {
          context.addIssue({ code: "custom", path: [index], message: `"${item}" is not a parameter a policy governs (${allowed.join(", ")}, or "*")` });
        }
      });
    });

export const roleSchema = z.strictObject({
  /** Gateway types the role may use: websocket, http, mqtt, a custom protocol's name; `"*"` for all. */
  gateways: grantList(),
  /** Highest `max_tokens` a request may ask for; a request that asks for none gets this when it is below the agent's default. */
  max_tokens: z.number().int().positive().optional(),
  /** Request parameters the role may set; `"*"` for all. */
  params: grantList(policyParams),
  /** Knowledge collections the role may read (retrieval, later issues); `"*"` for all. */
  collections: grantList(),
  /** Node-side tools the role may have the model call (plugins, MCP `server.tool` or `server.*`, built-ins); `"*"` for all. */
  tools: grantList(),
  /** Agents (config `agents`) the role may talk to; all by default. */
  agents: grantList(undefined, ["*"]),
  /** Plugins that must run on this role's requests: the policy is refused unless the node has each loaded. */
  plugins: z.array(z.string().min(1)).default([]),
  /** Per subject and role: requests and tokens (prompt + completion) per minute; absent: only the node-wide caps. */
  rate: z
    .strictObject({
      requests_per_minute: z.number().positive().optional(),
      tokens_per_minute: z.number().positive().optional(),
    })
    .default({}),
  /** Requests one subject may have running at once with this role. */
  concurrency: z.number().int().positive().optional(),
  /** true: this role's answers carry the output watermark (needs `watermark.key`); false: they do not; absent: `watermark.enabled`. */
  watermark: z.boolean().optional(),
});

export const policySchema = z.strictObject({
  roles: z.record(z.string().min(1), roleSchema),
  /** Staged rollout per gateway type; replaces `security.rollout` for the gateways it names while this policy is in force. */
  rollout: z.record(z.string().min(1), rolloutSchema).default({}),
});

export type RolePolicy = z.infer<typeof roleSchema>;
export type PolicyDocument = z.infer<typeof policySchema>;
