// Waits until a client's send buffer is back under the gateway's limit, or fails with slow_client past a timeout.
import { ClawError } from "../core/errors.js";

export interface BackpressureOptions {
  /** Bytes written to the client and not yet handed to the kernel (ws bufferedAmount, writableLength, …). */
  buffered(): number;
  /** The gateway's `max_buffered`, in bytes. */
  maxBuffered: number;
  /** How long the buffer may stay above the limit before the request is cancelled, in milliseconds. */
  timeoutMs: number;
  /** Checked while waiting: when it is aborted (client gone, request cancelled) the wait ends at once. */
  signal?: AbortSignal;
}

/** How often the buffer is checked while a request waits (only then: no cost while the client keeps up). */
const pollMs = 10;

export class Backpressure {
  constructor(private readonly options: BackpressureOptions) {}

  /** Whether the buffer is above the limit (the write that returns this should ask the pipeline to wait). */
  get full(): boolean {
    return this.options.buffered() > this.options.maxBuffered;
  }

  /** Resolves when the buffer is at or under the limit; rejects with slow_client after the timeout. */
  drained(): Promise<void> {
    if (!this.full) return Promise.resolve();
    const { maxBuffered, timeoutMs, signal } = this.options;
    const deadline = Date.now() + timeoutMs;
    return new Promise((resolve, reject) => {
      const timer = setInterval(() => {
        if (!this.full || signal?.aborted) {
          clearInterval(timer);
          resolve();
        } else if (Date.now() >= deadline) {
          clearInterval(timer);
          reject(
            new ClawError(
              "slow_client",
              `The client did not read its answer: ${this.options.buffered()} bytes stayed buffered (limit ${maxBuffered}) for ${Math.round(timeoutMs / 1000)} s.`,
            ),
          );
        }
      }, pollMs);
    });
  }
}
