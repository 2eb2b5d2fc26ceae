// A platform access token, fetched once, shared by concurrent callers, refreshed before expiry.
import { ImDeliveryError } from "./im-channel-types.js";

export interface FetchedToken {
  token: string;
  /** Seconds it is valid for (the platform's expires_in / expire / expireIn). */
  expiresInSeconds: number;
}

interface CachedToken {
  token: string;
  /** When get() fetches a new one (ms since the epoch). */
  refreshAt: number;
}

export class TokenCache {
  private cached: CachedToken | undefined;
  private pending: Promise<string> | undefined;
  /** Bumped by invalidate(): a fetch that started before it does not overwrite the cache afterwards. */
  private generation = 0;
  private readonly refreshMarginSeconds: number;
  private readonly now: () => number;

  /**
   * `fetch` gets a fresh token from the platform (gettoken, oauth2/accessToken, tenant_access_token/internal).
   * The token is refreshed when less than `refreshMarginSeconds` (default 300, at most half its life) remain;
   * concurrent callers share one fetch; a failed fetch is thrown to every waiter and retried on the next call.
   */
  constructor(
    private readonly fetch: () => Promise<FetchedToken>,
    options: { refreshMarginSeconds?: number; now?: () => number } = {},
  ) {
    this.refreshMarginSeconds = options.refreshMarginSeconds ?? 300;
    this.now = options.now ?? Date.now;
  }

  get(): Promise<string> {
    if (this.cached && this.now() < this.cached.refreshAt) return Promise.resolve(this.cached.token);
    this.pending ??= this.refresh();
    return this.pending;
  }

  /** The platform refused the token (expired early, revoked): the next get() fetches a new one. */
  invalidate(): void {
    this.cached = undefined;
    this.pending = undefined;
    this.generation += 1;
  }

  private async refresh(): Promise<string> {
    const generation = this.generation;
    try {
      const fetched = await this.fetch();
      if (typeof fetched?.token !== "string" || fetched.token === "") throw new ImDeliveryError("the platform's token response has no token", true);
      const lifetime = Number.isFinite(fetched.expiresInSeconds) && fetched.expiresInSeconds > 0 ? fetched.expiresInSeconds : 0;
      const margin = Math.min(this.refreshMarginSeconds, lifetime / 2);
      if (generation === this.generation) this.cached = { token: fetched.token, refreshAt: this.now() + (lifetime - margin) * 1000 };
      return fetched.token;
    } finally {
      if (generation === this.generation) this.pending = undefined;
    }
  }
}
