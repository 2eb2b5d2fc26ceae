// Wraps a gateway's Authenticator so every refused credential is reported (metrics count it, the audit ledger records it).
import { toClawError } from "../core/errors.js";
import type { GatewayEvents } from "./gateway-events.js";
import type { Authenticator } from "../security/authenticator.js";

export function observeAuthenticator(authenticator: Authenticator, events: Pick<GatewayEvents, "authFailed">): Authenticator {
  return {
    required: authenticator.required,
    expiresAt: (principal) => authenticator.expiresAt(principal),
    ...(authenticator.watchRevocation ? { watchRevocation: authenticator.watchRevocation } : {}),
    ...(authenticator.revoked ? { revoked: authenticator.revoked } : {}),
    authenticate: async (token, remote) => {
      try {
        return await authenticator.authenticate(token, remote);
      } catch (error) {
        const clawError = toClawError(error);
        events.authFailed(clawError.code, clawError.message, remote);
        throw error;
      }
    },
  };
}
