// Sends an IM channel's pieces in order per conversation, under per-user and per-group rate limits, retrying platform errors with backoff.
import type { Logger } from "../../logging/logger.js";
import { ImDeliveryError } from "./im-channel-types.js";

export interface DeliveryQueueOptions {
  /** Sends per minute to one user (a direct chat) and to one group; absent: no limit of ours. */
  userRatePerMinute?: number;
  groupRatePerMinute?: number;
  /** How long (ms) a failing piece is retried from its first failure before it is given up. */
  deliveryTimeoutMs: number;
  /** Called before retrying an error with tokenExpired (the adapter drops its cached token). */
  onTokenExpired?(): void;
  logger?: Logger;
  /** Injected for the tests: the clock, the waiting, and the jitter (0 ≤ random() < 1). */
  now?: () => number;
  sleep?: (ms: number, signal: AbortSignal) => Promise<void>;
  random?: () => number;
}

/** Where a piece goes: its conversation (the order) and who it counts against (the rate limits). */
export interface DeliveryRoute {
  conversation: string;
  chatType: "direct" | "group";
}

/** How a piece ended: sent, given up (a non-retryable error, or retried past the timeout), or cancelled by close(). */
export type DeliveryResult = "sent" | "failed" | "cancelled";

const firstBackoffMs = 500;
const maxBackoffMs = 30_000;

export class DeliveryQueue {
  /** Each conversation's last queued piece: the next one starts after it. */
  private readonly tails = new Map<string, Promise<unknown>>();
  /** Send times within the last minute, per rate key (sliding window: never more than N in any 60 s). */
  private readonly windows = new Map<string, number[]>();
  private readonly closing = new AbortController();
  private readonly now: () => number;
  private readonly sleep: (ms: number, signal: AbortSignal) => Promise<void>;
  private readonly random: () => number;
  private waiting = 0;
  readonly counts = { sent: 0, retried: 0, failed: 0 };

  constructor(private readonly options: DeliveryQueueOptions) {
    this.now = options.now ?? Date.now;
    this.sleep = options.sleep ?? abortableSleep;
    this.random = options.random ?? Math.random;
  }

  /** Pieces queued or being sent. */
  get queued(): number {
    return this.waiting;
  }

  /**
   * Queues `send` behind the conversation's earlier pieces; resolves with how it ended (never rejects). A `partial`
   * (a streamed update of one message, superseded by the next) is tried once, outside the rate limits: the
   * streaming interval is its throttle, and a later update or the final answer carries its text anyway.
   */
  enqueue(route: DeliveryRoute, send: () => Promise<void>, options: { partial?: boolean } = {}): Promise<DeliveryResult> {
    this.waiting += 1;
    const previous = this.tails.get(route.conversation) ?? Promise.resolve();
    const run = previous.then(() => (options.partial ? this.tryOnce(route, send) : this.deliver(route, send)));
    const tail = run.finally(() => {
      this.waiting -= 1;
      if (this.tails.get(route.conversation) === tail) this.tails.delete(route.conversation);
    });
    this.tails.set(route.conversation, tail);
    return run;
  }

  /** Waits for every queued piece up to `graceMs`, then cancels what is left (waits and retries stop). */
  async close(graceMs: number): Promise<void> {
    const all = Promise.allSettled([...this.tails.values()]);
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([all, new Promise<void>((resolve) => (timer = setTimeout(resolve, graceMs)))]);
    clearTimeout(timer);
    this.closing.abort();
    await all;
  }

  private async tryOnce(route: DeliveryRoute, send: () => Promise<void>): Promise<DeliveryResult> {
    if (this.closing.signal.aborted) return "cancelled";
    try {
      await send();
      return "sent";
    } catch (error) {
      this.options.logger?.debug({ conversation: route.conversation, error: error instanceof Error ? error.message : String(error) }, "IM streamed update failed; the next one replaces it");
      return "failed";
    }
  }

  private async deliver(route: DeliveryRoute, send: () => Promise<void>): Promise<DeliveryResult> {
    const signal = this.closing.signal;
    let deadline: number | undefined;
    for (let attempt = 0; ; attempt++) {
      if (signal.aborted) return "cancelled";
      if (!(await this.takeRate(route, signal))) return "cancelled";
      try {
        await send();
        this.counts.sent += 1;
        return "sent";
      } catch (error) {
        const failure = error instanceof ImDeliveryError ? error : undefined;
        // Anything but a platform answer (fetch's TypeError, a reset socket) is a network failure: retried.
        const retryable = failure ? failure.retryable || failure.tokenExpired : true;
        deadline ??= this.now() + this.options.deliveryTimeoutMs;
        const backoff = Math.min(maxBackoffMs, firstBackoffMs * 2 ** attempt) * (0.5 + this.random());
        const delay = Math.max(failure?.retryAfterMs ?? 0, failure?.tokenExpired && attempt === 0 ? 0 : backoff);
        const detail = { conversation: route.conversation, attempt: attempt + 1, error: error instanceof Error ? error.message : String(error) };
        if (!retryable || this.now() + delay > deadline) {
          this.counts.failed += 1;
          this.options.logger?.error({ ...detail, retryable }, "IM delivery given up");
          return "failed";
        }
        this.counts.retried += 1;
        this.options.logger?.warn({ ...detail, delayMs: Math.round(delay) }, "IM delivery failed; retrying");
        if (failure?.tokenExpired) this.options.onTokenExpired?.();
        if (delay > 0 && !(await this.wait(delay, signal))) return "cancelled";
      }
    }
  }

  /** Waits until the route's user or group may be sent one more piece, and counts it; false when cancelled. */
  private async takeRate(route: DeliveryRoute, signal: AbortSignal): Promise<boolean> {
    const limit = route.chatType === "group" ? this.options.groupRatePerMinute : this.options.userRatePerMinute;
    if (limit === undefined) return true;
    const key = `${route.chatType}\u0000${route.conversation}`;
    if (this.windows.size > 10_000) this.forgetIdle();
    for (;;) {
      const now = this.now();
      const window = (this.windows.get(key) ?? []).filter((sentAt) => now - sentAt < 60_000);
      if (window.length < limit) {
        window.push(now);
        this.windows.set(key, window);
        return true;
      }
      this.windows.set(key, window);
      if (!(await this.wait(window[0]! + 60_000 - now, signal))) return false;
    }
  }

  /** Drops the windows of conversations that sent nothing in the last minute (bounded memory). */
  private forgetIdle(): void {
    const now = this.now();
    for (const [key, window] of this.windows) if (window.every((sentAt) => now - sentAt >= 60_000)) this.windows.delete(key);
  }

  private async wait(ms: number, signal: AbortSignal): Promise<boolean> {
    try {
      await this.sleep(ms, signal);
      return !signal.aborted;
    } catch {
      return false;
    }
  }
}

function abortableSleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    signal.addEventListener("abort", done, { once: true });
    function done() {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    }
  });
}
