// A token bucket refilled continuously at `perMinute`, holding at most one minute's worth; its clock is injected.

export class TokenBucket {
  private level: number;
  private updatedAt: number;

  constructor(
    private perMinute: number,
    now: number,
  ) {
    this.level = perMinute;
    this.updatedAt = now;
  }

  /** Follows a changed policy: the rate and the capacity change, what is in the bucket stays (up to the new capacity). */
  setRate(perMinute: number): void {
    this.perMinute = perMinute;
    this.level = Math.min(this.level, perMinute);
  }

  /** What the bucket holds now (negative after a debit larger than it held). */
  available(now: number): number {
    if (now > this.updatedAt) {
      this.level = Math.min(this.perMinute, this.level + ((now - this.updatedAt) * this.perMinute) / 60_000);
      this.updatedAt = now;
    }
    return this.level;
  }

  /** Takes `amount`; may leave the bucket negative (tokens are counted after the answer). */
  debit(amount: number, now: number): void {
    this.available(now);
    this.level -= amount;
  }

  /** Whole seconds (at least 1) until the bucket holds `needed`. */
  secondsUntil(needed: number, now: number): number {
    const missing = needed - this.available(now);
    if (missing <= 0) return 0;
    // The epsilon keeps float dust (0.05 × 60 / 3 = 1.0000000000000009) from adding a second.
    return Math.max(1, Math.ceil((missing * 60) / this.perMinute - 1e-9));
  }

  /** Whether it is full again (an idle bucket that can be forgotten). */
  full(now: number): boolean {
    return this.available(now) >= this.perMinute;
  }
}
