// The policy file's schema: the issue's shape parses, defaults deny, and each mistake is named by file and key path.
import fs from "node:fs";
import { describe, expect, it } from "vitest";
import { parsePolicy, policyDigest } from "./policy-loader.js";

const issueExample = `
roles:
  doctor: {gateways: [websocket, http], max_tokens: 512, rate: {requests_per_minute: 60, tokens_per_minute: 20000}, concurrency: 2}
  guest:  {gateways: [http], max_tokens: 64, rate: {requests_per_minute: 3}}
`;

describe("parsePolicy", () => {
  it("reads the issue's example, with empty grants where it names none", () => {
    const policy = parsePolicy(issueExample, "policy.yaml");
    expect(policy.document.roles.doctor).toMatchObject({ gateways: ["websocket", "http"], max_tokens: 512, concurrency: 2, params: [], tools: [] });
    expect(policy.document.roles.guest?.rate).toEqual({ requests_per_minute: 3 });
    expect(policy.document.rollout).toEqual({});
    expect(policy.digest).toBe(policyDigest(issueExample));
    expect(policy.digest).toMatch(/^[0-9a-f]{64}$/);
  });

  it("names the file and the key path of each mistake", () => {
    const refused = (text: string) => {
      try {
        parsePolicy(text, "/etc/clawbot/policy.yaml");
      } catch (error) {
        expect(error).toMatchObject({ code: "bad_request" });
        return (error as Error).message;
      }
      throw new Error("accepted");
    };
    expect(refused("roles: {doctor: {max_tokens: many}}")).toBe("/etc/clawbot/policy.yaml: roles.doctor.max_tokens: expected number, got string");
    expect(refused("roles: {doctor: {gateway: [http]}}")).toBe('/etc/clawbot/policy.yaml: roles.doctor: unknown key "gateway"');
    expect(refused("roles: {doctor: {params: [adapter, colour]}}")).toContain('roles.doctor.params[1]: "colour" is not a parameter a policy governs');
    expect(refused("roles: {doctor: {tools: ['*', search]}}")).toContain('roles.doctor.tools: "*" (everything) must be the only entry');
    expect(refused("roles: {a: {}}\nrollout: {websocket: {stage: internal}}")).toContain("rollout.websocket.allow_roles: stage internal needs allow_roles");
    expect(refused("rollout: {websocket: {stage: soon}}")).toContain("roles: expected object, got undefined");
    expect(refused("roles: [doctor")).toMatch(/^\/etc\/clawbot\/policy.yaml: not valid YAML/);
    expect(refused("- doctor")).toBe("/etc/clawbot/policy.yaml: expected a mapping with roles: at the top level");
  });

  it("refuses a role that requires a plugin the node has not loaded", () => {
    const text = "roles: {doctor: {gateways: ['*'], plugins: [redact, watermark]}}";
    expect(() => parsePolicy(text, "p.yaml", { loadedPlugins: ["redact"] })).toThrow('p.yaml: roles.doctor.plugins[1]: plugin "watermark" is not loaded on this node');
    expect(parsePolicy(text, "p.yaml", { loadedPlugins: ["redact", "watermark"] }).document.roles.doctor?.plugins).toEqual(["redact", "watermark"]);
  });
});

describe("the policy in docs/security.md", () => {
  it("is a valid policy", () => {
    const markdown = fs.readFileSync(new URL("../../../docs/security.md", import.meta.url), "utf8");
    const block = /```yaml\n(# security\.policy_file\n[\s\S]*?)```/.exec(markdown)?.[1];
    expect(block).toBeDefined();
    const policy = parsePolicy(block as string, "docs/security.md");
    expect(Object.keys(policy.document.roles)).toEqual(["doctor", "guest"]);
    expect(policy.document.rollout.websocket).toEqual({ stage: "limited", allow_roles: ["doctor"], percent: 10 });
  });
});
