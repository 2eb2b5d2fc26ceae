// Collapses bursts of refused credentials: at most N audit records per gateway per second, then one record counting the rest.
import type { ErrorCode } from "../core/errors.js";

export interface AuthFailure {
  gateway: string;
  code: ErrorCode;
  reason: string;
  remote: string | undefined;
}

/** One record counting the failures not recorded one by one in a window. */
export interface SuppressedAuthFailures {
  gateway: string;
  suppressed: number;
  /** Epoch milliseconds: the window. */
  since: number;
  until: number;
  /** How many of each code were suppressed. */
  codes: Record<string, number>;
}

export interface AuthFailureBurstsOptions {
  /** Records one by one per gateway per window. */
  perWindow: number;
  windowMs: number;
  record(failure: AuthFailure): void;
  recordSuppressed(summary: SuppressedAuthFailures): void;
  clock?: () => number;
  /** Schedules the summary at the window's end (setTimeout, unref'd, by default). */
  schedule?: (callback: () => void, delayMs: number) => { cancel(): void };
}

interface Window {
  startedAt: number;
  recorded: number;
  suppressed: number;
  codes: Record<string, number>;
  timer: { cancel(): void } | undefined;
}

/**
 * A client that floods a gateway with bad tokens cannot flood the ledger: per gateway, the first `perWindow` failures
 * of each window are recorded one by one; the rest are counted and written as one summary record when the window ends
 * (or at flush, on close).
 */
export class AuthFailureBursts {
  private readonly windows = new Map<string, Window>();
  private readonly clock: () => number;
  private readonly schedule: NonNullable<AuthFailureBurstsOptions["schedule"]>;

  constructor(private readonly options: AuthFailureBurstsOptions) {
    this.clock = options.clock ?? Date.now;
    this.schedule =
      options.schedule ??
      ((callback, delayMs) => {
        const timer = setTimeout(callback, delayMs);
        timer.unref();
        return { cancel: () => clearTimeout(timer) };
      });
  }

  failed(failure: AuthFailure): void {
    const now = this.clock();
    let window = this.windows.get(failure.gateway);
    if (window && now - window.startedAt >= this.options.windowMs) {
      this.close(failure.gateway, window);
      window = undefined;
    }
    if (!window) {
      window = { startedAt: now, recorded: 0, suppressed: 0, codes: {}, timer: undefined };
      this.windows.set(failure.gateway, window);
    }
    if (window.recorded < this.options.perWindow) {
      window.recorded += 1;
      this.options.record(failure);
      return;
    }
    window.suppressed += 1;
    window.codes[failure.code] = (window.codes[failure.code] ?? 0) + 1;
    if (!window.timer) {
      const gateway = failure.gateway;
      const current = window;
      current.timer = this.schedule(() => {
        if (this.windows.get(gateway) === current) this.close(gateway, current);
      }, Math.max(0, current.startedAt + this.options.windowMs - now));
    }
  }

  /** Writes every pending summary (on close). */
  flush(): void {
    for (const [gateway, window] of [...this.windows]) this.close(gateway, window);
  }

  private close(gateway: string, window: Window): void {
    this.windows.delete(gateway);
    window.timer?.cancel();
    if (window.suppressed === 0) return;
    const until = Math.min(this.clock(), window.startedAt + this.options.windowMs);
    this.options.recordSuppressed({ gateway, suppressed: window.suppressed, since: window.startedAt, until, codes: window.codes });
  }
}
