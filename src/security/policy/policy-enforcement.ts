// Builds the node's permission checks from `security`: the policy store (watched file) and, when anything is to enforce, the authorizer.
import path from "node:path";
import type { SecurityConfig } from "../../config/schema.js";
import type { Logger } from "../../logging/logger.js";
import { Authorizer } from "./authorizer.js";
import { PolicyStore, type PolicyChange } from "./policy-store.js";

export interface PolicyEnforcement {
  store: PolicyStore;
  /** Undefined without a policy file and a rollout: every request is allowed, as before permissions existed. */
  authorizer: Authorizer | undefined;
}

export interface PolicyEnforcementOptions {
  baseDir: string;
  loadedPlugins: readonly string[];
  logger: Logger;
  /** Records each change (the audit ledger's `config_reload`, body from `policyChangeRecord`); throwing refuses it. */
  onChange?: (change: PolicyChange) => void;
}

/** Loads the policy file (a broken one throws: the node does not start) and starts watching it. */
export function createPolicyEnforcement(security: SecurityConfig, options: PolicyEnforcementOptions): PolicyEnforcement {
  const file = security.policy_file ? path.resolve(options.baseDir, security.policy_file) : undefined;
  const store = new PolicyStore({
    ...(file ? { file } : {}),
    loadedPlugins: options.loadedPlugins,
    logger: options.logger,
    ...(options.onChange ? { onChange: options.onChange } : {}),
  });
  store.watch();
  const enforced = file !== undefined || Object.keys(security.rollout).length > 0;
  return { store, authorizer: enforced ? new Authorizer({ policy: () => store.current(), security }) : undefined };
}

/** The body of a `config_reload` audit record: who changed the policy, how, and which version replaced which. */
export function policyChangeRecord(change: PolicyChange): Record<string, unknown> {
  return {
    what: "security_policy",
    source: change.source,
    by: change.by ?? null,
    file: change.file ?? null,
    policy_sm3: change.policy.digest,
    previous_sm3: change.previous?.digest ?? null,
    roles: Object.keys(change.policy.document.roles),
  };
}
