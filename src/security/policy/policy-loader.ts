// Parses and validates a policy's YAML text; every refusal names the file (or "the policy") and the key path.
import { createHash } from "node:crypto";
import YAML from "yaml";
import type { z } from "zod";
import { formatPath } from "../../config/load.js";
import { ClawError } from "../../core/errors.js";
import { policySchema, type PolicyDocument } from "./policy-schema.js";

/** One validated policy, immutable: requests keep the one they started with. */
export interface Policy {
  readonly document: PolicyDocument;
  /** Hex SM3 of the text it was read from: names this version in logs and audit records. */
  readonly digest: string;
  /** Where it came from: the file's path, or "api". */
  readonly origin: string;
}

export interface ParsePolicyOptions {
  /** The node's loaded plugins: a role requiring another one is refused. Not checked when absent. */
  loadedPlugins?: readonly string[];
}

/** The SM3 digest (hex) of a policy text. */
export function policyDigest(text: string): string {
  return createHash("sm3").update(text, "utf8").digest("hex");
}

/** Validates `text`; throws a `bad_request` ClawError whose message starts with `origin` and names each bad key. */
export function parsePolicy(text: string, origin: string, options: ParsePolicyOptions = {}): Policy {
  let raw: unknown;
  try {
    raw = YAML.parse(text, { prettyErrors: true });
  } catch (error) {
    throw new ClawError("bad_request", `${origin}: not valid YAML: ${(error as Error).message.split("\n")[0]}`);
  }
  if (raw === null || typeof raw !== "object" || Array.isArray(raw)) {
    throw new ClawError("bad_request", `${origin}: expected a mapping with roles: at the top level`);
  }
  const result = policySchema.safeParse(raw);
  if (!result.success) throw new ClawError("bad_request", result.error.issues.map((issue) => describeIssue(origin, issue)).join("; "));
  const document = result.data;
  if (options.loadedPlugins) {
    for (const [role, grant] of Object.entries(document.roles)) {
      grant.plugins.forEach((plugin, index) => {
        if (!options.loadedPlugins?.includes(plugin)) {
          throw new ClawError("bad_request", `${origin}: roles.${role}.plugins[${index}]: plugin "${plugin}" is not loaded on this node (plugins: in the config)`);
        }
      });
    }
  }
  return Object.freeze({ document, digest: policyDigest(text), origin });
}

function describeIssue(origin: string, issue: z.ZodIssue): string {
  const where = formatPath(issue.path);
  const prefix = where ? `${origin}: ${where}` : origin;
  if (issue.code === "unrecognized_keys") return `${prefix}: unknown key${issue.keys.length > 1 ? "s" : ""} ${issue.keys.map((key) => `"${key}"`).join(", ")}`;
  if (issue.code === "invalid_type") return `${prefix}: expected ${issue.expected}, got ${issue.received}`;
  if (issue.code === "invalid_enum_value") return `${prefix}: expected one of ${issue.options.map((option) => JSON.stringify(option)).join(", ")}`;
  return `${prefix}: ${issue.message}`;
}
