// Platform user → Principal: listed users (subject, roles, default roles), unlisted ones allowed or refused, inherited keys ignored.
import { describe, expect, it } from "vitest";
import { imPrincipal } from "./im-identity.js";

const config = { users: { u1: { subject: "alice", roles: ["admin"] }, u2: { roles: [] } }, default_roles: ["user"], unknown_users: "allow" as const };

describe("imPrincipal", () => {
  it("maps a listed user to its subject and roles, with where it came from in the claims", () => {
    expect(imPrincipal("wecom", config, "u1", "Alice")).toEqual({
      subject: "alice",
      roles: ["admin"],
      scopes: [],
      claims: { platform: "wecom", platform_user_id: "u1", name: "Alice" },
    });
  });

  it("gives `<platform>:<id>` and the default roles to a listed user without them and to an unlisted one", () => {
    expect(imPrincipal("feishu", config, "u2")).toMatchObject({ subject: "feishu:u2", roles: ["user"] });
    expect(imPrincipal("feishu", config, "u9")).toMatchObject({ subject: "feishu:u9", roles: ["user"] });
  });

  it("refuses unlisted users with unknown_users: refuse, inherited property names included", () => {
    const strict = { ...config, unknown_users: "refuse" as const };
    expect(imPrincipal("dingtalk", strict, "u9")).toBeUndefined();
    expect(imPrincipal("dingtalk", strict, "__proto__")).toBeUndefined();
    expect(imPrincipal("dingtalk", strict, "constructor")).toBeUndefined();
    expect(imPrincipal("dingtalk", strict, "u1")?.subject).toBe("alice");
  });
});
