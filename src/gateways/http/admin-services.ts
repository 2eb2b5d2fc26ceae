// What the admin HTTP API acts on (the daemon supplies it): the policy, the session listing, revocation and erasure.
import type { SessionPage, SessionPageRequest } from "../../store/session-listing.js";

/** The current permission policy and how to change it (the node's PolicyStore). */
export interface AdminPolicy {
  /** The policy in force, as JSON (its document, digest and origin); undefined when the node has none. */
  current(): Record<string, unknown> | undefined;
  /** Validates and applies a new policy text (YAML or JSON); throws `bad_request` naming the problem. Audited with `by`. */
  replace(text: string, by: string): Promise<Record<string, unknown>> | Record<string, unknown>;
}

/** A revocation as the admin asked for it: one token id, or every token of a subject issued until now. */
export type RevocationRequest = { jti: string; subject?: undefined; expiresAt?: number } | { subject: string; jti?: undefined; expiresAt?: number };

export interface AdminServices {
  /** Absent until the node has a policy store. */
  policy?: AdminPolicy;
  listSessions(request: SessionPageRequest): SessionPage;
  /** Revokes and audits (`token_revocation`); returns what to answer. */
  revoke(request: RevocationRequest, by: string): Record<string, unknown>;
  /** Erases a data subject (PIPL) and writes the `erasure` tombstone; returns what to answer. */
  erase(subject: string, by: string): Record<string, unknown>;
}
