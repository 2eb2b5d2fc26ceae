// CONTRACT (helper "IM core" implements): a platform access token, fetched once, shared by concurrent callers, refreshed before expiry.

export interface FetchedToken {
  token: string;
  /** Seconds it is valid for (the platform's expires_in / expire / expireIn). */
  expiresInSeconds: number;
}

/** SEAM: the IM core helper replaces this declaration with the implementation (same signatures). */
export declare class TokenCache {
  /**
   * `fetch` gets a fresh token from the platform (gettoken, oauth2/accessToken, tenant_access_token/internal).
   * The token is refreshed when less than `refreshMarginSeconds` (default 300, at most half its life) remain;
   * concurrent callers share one fetch; a failed fetch is thrown to every waiter and retried on the next call.
   */
  constructor(fetch: () => Promise<FetchedToken>, options?: { refreshMarginSeconds?: number; now?: () => number });
  get(): Promise<string>;
  /** The platform refused the token (expired early, revoked): the next get() fetches a new one. */
  invalidate(): void;
}
