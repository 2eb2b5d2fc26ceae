// Stage 1 of the request path: turns a gateway's credentials into a Principal, or refuses with `unauthorized`.
import type { AuthConfig } from "../config/schema.js";
import { ClawError } from "../core/errors.js";
import type { Principal } from "../core/types.js";
import { createTokenVerifier, type TokenVerifier } from "./jwt-verifier.js";
import { RevocationList } from "./revocation-list.js";

export interface Authenticator {
  /** Whether a token is required; false only for `auth: {type: none}` on loopback. */
  readonly required: boolean;
  /** `remote` (the client's address, when the gateway knows it) is for the record of a refusal; it never changes the answer. */
  authenticate(token: string | undefined, remote?: string): Promise<Principal>;
  /**
   * When a verified principal's token stops being accepted, in epoch milliseconds: its `exp` plus the
   * configured `clock_tolerance`. Undefined when it never expires (no auth). Long-lived connections close then.
   */
  expiresAt(principal: Principal): number | undefined;
  /**
   * Calls `onRevoked` once when the principal's token is revoked (POST /admin/tokens/revoke); returns the function
   * that stops watching. Absent without a revocation list. Long-lived connections close (4401) then.
   */
  watchRevocation?(principal: Principal, onRevoked: () => void): () => void;
  /** Why a principal verified earlier (a stored one, without its token) is revoked now, or undefined. Absent without a revocation list. */
  revoked?(principal: Principal): string | undefined;
}

/** Refuses revoked tokens (by jti or subject) with `unauthorized` ("token revoked"), after the token itself was verified. */
export function withRevocation(authenticator: Authenticator, revocations: RevocationList): Authenticator {
  if (!authenticator.required) return authenticator;
  return {
    required: true,
    expiresAt: (principal) => authenticator.expiresAt(principal),
    authenticate: async (token, remote) => {
      const principal = await authenticator.authenticate(token, remote);
      const reason = revocations.revoked(principal);
      if (reason) throw new ClawError("unauthorized", reason);
      return principal;
    },
    revoked: (principal) => revocations.revoked(principal),
    watchRevocation: (principal, onRevoked) =>
      revocations.subscribe((revocation) => {
        if (RevocationList.applies(revocation, principal)) onRevoked();
      }),
  };
}

const anonymous: Principal = Object.freeze({ subject: "anonymous", roles: ["user"], scopes: [], claims: {} });

export async function createAuthenticator(config: AuthConfig, baseDir: string): Promise<Authenticator> {
  if (config.type === "none") {
    return { required: false, authenticate: async () => anonymous, expiresAt: () => undefined };
  }
  const verifier: TokenVerifier = await createTokenVerifier(config, baseDir);
  return {
    required: true,
    authenticate: async (token) => {
      if (!token) throw new ClawError("unauthorized", "A bearer token is required.");
      return verifier.verify(token);
    },
    expiresAt: (principal) => {
      const expiry = principal.claims.exp;
      return typeof expiry === "number" ? (expiry + config.clock_tolerance) * 1000 : undefined;
    },
  };
}
