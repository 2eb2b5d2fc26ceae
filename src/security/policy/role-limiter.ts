// Per subject and role set, in memory: requests and tokens per minute (token buckets) and requests running at once.
import { ClawError } from "../../core/errors.js";
import { TokenBucket } from "./token-bucket.js";

export interface RoleLimits {
  requestsPerMinute: number | undefined;
  tokensPerMinute: number | undefined;
  concurrency: number | undefined;
}

/** A request let through: it releases its concurrency slot once, and debits its tokens once it is counted. */
export interface LimiterLease {
  debitTokens(tokens: number): void;
  release(): void;
}

interface Entry {
  requests?: TokenBucket;
  tokens?: TokenBucket;
  running: number;
}

/** Idle, full entries are forgotten every this many admissions, so memory follows the active subjects. */
const sweepEvery = 1024;

export class RoleLimiter {
  private readonly entries = new Map<string, Entry>();
  private admissions = 0;

  constructor(private readonly clock: () => number = Date.now) {}

  /**
   * Lets a request of `key` (subject and roles) through, or throws `rate_limited` with the seconds to wait: when its
   * requests-per-minute bucket holds less than one request, its tokens-per-minute bucket is empty (tokens are debited
   * after each answer, so one answer may overdraw it), or `concurrency` requests of the key are running.
   */
  admit(key: string, limits: RoleLimits, describe: string): LimiterLease {
    const now = this.clock();
    if (++this.admissions % sweepEvery === 0) this.sweep(now);
    const entry = this.entries.get(key) ?? { running: 0 };
    this.entries.set(key, entry);
    entry.requests = bucketFor(entry.requests, limits.requestsPerMinute, now);
    entry.tokens = bucketFor(entry.tokens, limits.tokensPerMinute, now);
    if (limits.concurrency !== undefined && entry.running >= limits.concurrency) {
      throw new ClawError("rate_limited", `${describe} may run ${limits.concurrency} request${limits.concurrency === 1 ? "" : "s"} at once.`, { retryAfter: 1 });
    }
    if (entry.requests && entry.requests.available(now) < 1) {
      throw new ClawError("rate_limited", `${describe} may send ${limits.requestsPerMinute} requests per minute.`, { retryAfter: entry.requests.secondsUntil(1, now) });
    }
    if (entry.tokens && entry.tokens.available(now) < 1) {
      throw new ClawError("rate_limited", `${describe} may use ${limits.tokensPerMinute} tokens per minute.`, { retryAfter: entry.tokens.secondsUntil(1, now) });
    }
    entry.requests?.debit(1, now);
    entry.running += 1;
    let released = false;
    let debited = false;
    return {
      debitTokens: (tokens) => {
        if (debited) return;
        debited = true;
        entry.tokens?.debit(tokens, this.clock());
      },
      release: () => {
        if (released) return;
        released = true;
        entry.running -= 1;
      },
    };
  }

  /** Requests of `key` running now (for tests and status). */
  running(key: string): number {
    return this.entries.get(key)?.running ?? 0;
  }

  private sweep(now: number): void {
    for (const [key, entry] of this.entries) {
      if (entry.running === 0 && (entry.requests?.full(now) ?? true) && (entry.tokens?.full(now) ?? true)) this.entries.delete(key);
    }
  }
}

function bucketFor(bucket: TokenBucket | undefined, perMinute: number | undefined, now: number): TokenBucket | undefined {
  if (perMinute === undefined) return undefined;
  if (!bucket) return new TokenBucket(perMinute, now);
  bucket.setRate(perMinute);
  return bucket;
}
