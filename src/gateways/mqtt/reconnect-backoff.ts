// Capped exponential backoff with jitter: 1 s, 2 s, 4 s … up to a maximum, reset after a successful connection.

export interface ReconnectBackoffOptions {
  /** First delay in milliseconds (at most maxMs). */
  initialMs?: number;
  maxMs: number;
  /** Each delay is scaled by a random factor in [1 − jitter, 1 + jitter], then capped. */
  jitter?: number;
  random?: () => number;
}

export class ReconnectBackoff {
  private attempt = 0;

  constructor(private readonly options: ReconnectBackoffOptions) {}

  /** The delay before the next attempt; each call doubles the base delay until the cap. */
  next(): number {
    const { maxMs, initialMs = 1000, jitter = 0.2, random = Math.random } = this.options;
    const base = Math.min(maxMs, initialMs * 2 ** Math.min(this.attempt, 30));
    this.attempt += 1;
    const factor = 1 + jitter * (2 * random() - 1);
    return Math.max(1, Math.round(Math.min(maxMs, base * factor)));
  }

  reset(): void {
    this.attempt = 0;
  }
}
