// A platform's verified sender → the Principal permissions and the audit ledger see (`users`, `default_roles`, `unknown_users`).
import type { Principal } from "../../core/types.js";
import type { ImCommonConfig } from "./im-config.js";

/**
 * The principal of platform user `senderId`: a listed user's `subject` (else `<platform>:<id>`) and roles (none listed:
 * `default_roles`); an unlisted one gets `<platform>:<id>` and `default_roles`, or undefined (refused) with `unknown_users: refuse`. The claims
 * say where the identity came from, for plugins and the audit record.
 */
export function imPrincipal(platform: string, config: Pick<ImCommonConfig, "users" | "default_roles" | "unknown_users">, senderId: string, senderName?: string): Principal | undefined {
  // Own keys only: a sender id such as "__proto__" or "constructor" must not find an inherited entry.
  const listed = Object.hasOwn(config.users, senderId) ? config.users[senderId] : undefined;
  if (!listed && config.unknown_users === "refuse") return undefined;
  return {
    subject: listed?.subject ?? `${platform}:${senderId}`,
    roles: [...(listed && listed.roles.length > 0 ? listed.roles : config.default_roles)],
    scopes: [],
    claims: { platform, platform_user_id: senderId, ...(senderName !== undefined ? { name: senderName } : {}) },
  };
}
