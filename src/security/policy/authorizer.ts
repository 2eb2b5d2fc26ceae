// The authorize stage: checks each request's principal, gateway and params against the policy in force, or refuses with a coded error.
import type { RolloutConfig, SecurityConfig } from "../../config/schema.js";
import { ClawError } from "../../core/errors.js";
import type { GenerationParams, Principal, Usage } from "../../core/types.js";
import type { Policy } from "./policy-loader.js";
import { policyParams, type PolicyParam } from "./policy-schema.js";
import { grants, roleGrant, type Grant } from "./role-grant.js";
import { rolesOf } from "./role-claims.js";
import { RoleLimiter } from "./role-limiter.js";
import { rolloutAdmits, rolloutRefusal } from "./rollout.js";

export interface AuthorizeRequest {
  principal: Principal;
  /** The gateway type it came through: websocket, http, mqtt, a custom protocol's name. */
  gateway: string;
  /** The parameters the client set (undefined ones it did not). */
  requested: Partial<GenerationParams>;
  /** `max_tokens` the request runs with when the client set none (the agent's default). */
  defaultMaxTokens: number;
}

/** A request let through, under the policy it started with (it keeps it to its end, whatever reloads meanwhile). */
export interface Authorization {
  /** The policy in force when it started; undefined without a policy file. */
  readonly policy: Policy | undefined;
  /** The principal's roles (from the configured claims). */
  readonly roles: string[];
  /** `max_tokens` to run with: the requested or default one, a default above the role's cap lowered to it. */
  readonly maxTokens: number;
  /** Knowledge collections and tools the request may use (later stages); `"*"`: all. */
  readonly collections: Grant;
  readonly tools: Grant;
  /** Agents the request may run as. */
  readonly agents: Grant;
  /** Whether the answer carries the output watermark (the roles' `watermark`); undefined: the node's `watermark.enabled`. */
  readonly watermark: boolean | undefined;
  /** Counts the answer's prompt and completion tokens against the role's tokens per minute. */
  finished(usage: Usage): void;
  /** Frees its concurrency slot; called once the request ended, however it ended. */
  release(): void;
}

export interface AuthorizerOptions {
  /** The policy in force now (PolicyStore.current); undefined: no role checks. */
  policy: () => Policy | undefined;
  security: Pick<SecurityConfig, "role_claims" | "rollout">;
  /** Epoch milliseconds; injected in tests. */
  clock?: () => number;
}

const protocolNames: Record<PolicyParam, keyof GenerationParams> = {
  adapter: "adapter",
  response_format: "responseFormat",
  logprobs: "logprobs",
};

export class Authorizer {
  readonly limiter: RoleLimiter;

  constructor(private readonly options: AuthorizerOptions) {
    this.limiter = new RoleLimiter(options.clock);
  }

  /** Allows the request (returning what it may do) or throws `forbidden` / `rate_limited` naming what is not allowed. */
  authorize(request: AuthorizeRequest): Authorization {
    const policy = this.options.policy();
    const roles = rolesOf(request.principal, this.options.security.role_claims);
    const requestedMax = request.requested.maxTokens;
    const rollout: RolloutConfig | undefined = policy?.document.rollout[request.gateway] ?? this.options.security.rollout[request.gateway];
    if (rollout && !rolloutAdmits(rollout, request.principal.subject, roles)) throw new ClawError("forbidden", rolloutRefusal(request.gateway, rollout));
    if (!policy) {
      return { policy, roles, maxTokens: requestedMax ?? request.defaultMaxTokens, collections: "*", tools: "*", agents: "*", watermark: undefined, finished: () => {}, release: () => {} };
    }
    const grant = roleGrant(policy, roles);
    if (!grant) {
      const claims = this.options.security.role_claims.join(", ");
      throw new ClawError(
        "forbidden",
        roles.length === 0
          ? `The token carries no role (claims ${claims}); the security policy lets in only its roles.`
          : `None of the token's roles (${roles.join(", ")}) is in the security policy.`,
      );
    }
    const roleNames = `role${grant.roles.length > 1 ? "s" : ""} ${grant.roles.join(", ")}`;
    const who = `R${roleNames.slice(1)}`;
    if (!grants(grant.gateways, request.gateway)) throw new ClawError("forbidden", `${who} may not use the ${request.gateway} gateway.`);
    for (const name of policyParams) {
      if (request.requested[protocolNames[name]] !== undefined && !grants(grant.params, name)) {
        throw new ClawError("forbidden", `${who} may not set ${name}.`, { param: name });
      }
    }
    let maxTokens = requestedMax ?? request.defaultMaxTokens;
    if (grant.maxTokens !== undefined) {
      if (requestedMax !== undefined && requestedMax > grant.maxTokens) {
        throw new ClawError("forbidden", `max_tokens ${requestedMax} is above ${grant.maxTokens}, the most ${roleNames} may ask for.`, { param: "max_tokens" });
      }
      maxTokens = Math.min(maxTokens, grant.maxTokens);
    }
    const lease = this.limiter.admit(`${request.principal.subject}\u0000${grant.roles.join("\u0000")}`, grant, who);
    return {
      policy,
      roles,
      maxTokens,
      collections: grant.collections,
      tools: grant.tools,
      agents: grant.agents,
      watermark: grant.watermark,
      finished: (usage) => lease.debitTokens(usage.promptTokens + usage.completionTokens),
      release: () => lease.release(),
    };
  }
}
