// The authorize stage: roles from the configured claims, the union of several roles, default deny, params, max_tokens, limits.
import { describe, expect, it } from "vitest";
import type { SecurityConfig } from "../../config/schema.js";
import type { Principal } from "../../core/types.js";
import { Authorizer } from "./authorizer.js";
import { parsePolicy, type Policy } from "./policy-loader.js";
import { rolesOf } from "./role-claims.js";

const policy = parsePolicy(
  `
roles:
  doctor: {gateways: [websocket, http], max_tokens: 512, params: [response_format], collections: [cases], rate: {requests_per_minute: 60}, concurrency: 2}
  researcher: {gateways: [mqtt], params: [adapter, logprobs], tools: [search], max_tokens: 1024, concurrency: 1}
  guest: {gateways: [http], max_tokens: 64, rate: {requests_per_minute: 3}}
`,
  "policy.yaml",
);

const principal = (subject: string, claims: Record<string, unknown>): Principal => ({ subject, roles: [], scopes: [], claims: { sub: subject, ...claims } });
const security: Pick<SecurityConfig, "role_claims" | "rollout"> = { role_claims: ["role", "roles", "groups"], rollout: {} };

/** `null`: no policy file. */
function authorizer(current: Policy | null = policy, overrides: Partial<typeof security> = {}) {
  return new Authorizer({ policy: () => current ?? undefined, security: { ...security, ...overrides }, clock: () => 0 });
}

const request = (who: Principal, gateway: string, requested: Record<string, unknown> = {}) => ({ principal: who, gateway, requested, defaultMaxTokens: 256 });

describe("rolesOf", () => {
  it("reads each configured claim, strings and lists, nested by dotted path; a principal without claims keeps its roles", () => {
    const who = principal("alice", { role: "doctor", groups: ["ward-3", 7], realm_access: { roles: ["nurse"] } });
    expect(rolesOf(who, ["role", "roles", "groups"])).toEqual(["doctor", "ward-3"]);
    expect(rolesOf(who, ["realm_access.roles"])).toEqual(["nurse"]);
    expect(rolesOf(who, ["groups"])).toEqual(["ward-3"]);
    expect(rolesOf({ subject: "anonymous", roles: ["user"], scopes: [], claims: {} }, ["role"])).toEqual(["user"]);
  });
});

describe("Authorizer", () => {
  it("allows everything without a policy, keeping the requested max_tokens", () => {
    const allowed = authorizer(null).authorize(request(principal("x", {}), "websocket", { maxTokens: 4000, adapter: "legal" }));
    expect(allowed).toMatchObject({ maxTokens: 4000, collections: "*", tools: "*", policy: undefined });
  });

  it("denies unknown roles and tokens without roles, naming them", () => {
    expect(() => authorizer().authorize(request(principal("x", { role: "janitor" }), "http"))).toThrow(
      expect.objectContaining({ code: "forbidden", message: "None of the token's roles (janitor) is in the security policy." }),
    );
    expect(() => authorizer().authorize(request(principal("x", {}), "http"))).toThrow(/carries no role \(claims role, roles, groups\)/);
  });

  it("refuses a gateway the roles do not grant, and a param they may not set", () => {
    expect(() => authorizer().authorize(request(principal("g", { role: "guest" }), "websocket"))).toThrow(
      expect.objectContaining({ code: "forbidden", message: "Role guest may not use the websocket gateway." }),
    );
    expect(authorizer().authorize(request(principal("g", { role: "guest" }), "http")).roles).toEqual(["guest"]);
    expect(() => authorizer().authorize(request(principal("d", { role: "doctor" }), "http", { adapter: "legal" }))).toThrow(
      expect.objectContaining({ code: "forbidden", param: "adapter", message: "Role doctor may not set adapter." }),
    );
    expect(authorizer().authorize(request(principal("d", { role: "doctor" }), "http", { temperature: 0.2 })).maxTokens).toBe(256);
  });

  it("refuses an explicit max_tokens above the cap and lowers a default above it", () => {
    expect(() => authorizer().authorize(request(principal("g", { role: "guest" }), "http", { maxTokens: 65 }))).toThrow(
      expect.objectContaining({ code: "forbidden", param: "max_tokens", message: "max_tokens 65 is above 64, the most role guest may ask for." }),
    );
    expect(authorizer().authorize(request(principal("g", { role: "guest" }), "http", { maxTokens: 64 })).maxTokens).toBe(64);
    expect(authorizer().authorize(request(principal("g", { role: "guest" }), "http")).maxTokens).toBe(64);
    expect(authorizer().authorize(request(principal("d", { role: "doctor" }), "http")).maxTokens).toBe(256);
  });

  it("gives several roles the union of their grants and the most generous limits", () => {
    const both = principal("dr-who", { roles: ["doctor", "researcher", "visitor"] });
    const allowed = authorizer().authorize(request(both, "mqtt", { adapter: "legal", temperature: 1, maxTokens: 1024 }));
    expect(allowed.maxTokens).toBe(1024);
    expect([...(allowed.collections as Set<string>)]).toEqual(["cases"]);
    expect([...(allowed.tools as Set<string>)]).toEqual(["search"]);
    // concurrency max(2, 1) = 2; the researcher's missing rate lifts the doctor's.
    const limiter = authorizer();
    limiter.authorize(request(both, "http"));
    limiter.authorize(request(both, "http"));
    expect(() => limiter.authorize(request(both, "http"))).toThrow(expect.objectContaining({ code: "rate_limited", message: "Roles doctor, researcher may run 2 requests at once." }));
  });

  it("rate-limits per subject and role set, with retry_after", () => {
    const limiter = authorizer();
    const guest = principal("g", { role: "guest" });
    for (let index = 0; index < 3; index += 1) limiter.authorize(request(guest, "http")).release();
    expect(() => limiter.authorize(request(guest, "http"))).toThrow(expect.objectContaining({ code: "rate_limited", retryAfter: 20 }));
    limiter.authorize(request(principal("g2", { role: "guest" }), "http"));
  });

  it("applies the rollout of the gateway: the policy's over the config's, also without a policy file", () => {
    const internal = { websocket: { stage: "internal" as const, allow_roles: ["doctor"], percent: 0 } };
    const onlyConfig = authorizer(null, { rollout: internal });
    expect(() => onlyConfig.authorize(request(principal("x", { role: "guest" }), "websocket"))).toThrow(
      expect.objectContaining({ code: "forbidden", message: "The websocket gateway is at rollout stage internal: it lets in roles doctor, not this subject yet." }),
    );
    onlyConfig.authorize(request(principal("x", { role: "doctor" }), "websocket"));
    onlyConfig.authorize(request(principal("x", { role: "guest" }), "http"));
    const opened = parsePolicy("roles: {guest: {gateways: ['*']}}\nrollout: {websocket: {stage: all}}", "p.yaml");
    authorizer(opened, { rollout: internal }).authorize(request(principal("x", { role: "guest" }), "websocket"));
  });
});
