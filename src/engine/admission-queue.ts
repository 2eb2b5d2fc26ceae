// Bounded FIFO admission to a fixed number of slots: a full queue refuses at once with `overloaded`.
import { ClawError } from "../core/errors.js";

export interface SlotLease {
  /** Index of the slot (sequence) this request may use until it releases it. */
  readonly slot: number;
  release(): void;
}

interface Waiter {
  resolve(lease: SlotLease): void;
  reject(error: unknown): void;
}

export class AdmissionQueue {
  private readonly freeSlots: number[];
  private readonly waiters: Waiter[] = [];
  private closedReason: ClawError | undefined;

  constructor(
    readonly slots: number,
    readonly maxQueue: number,
  ) {
    this.freeSlots = Array.from({ length: slots }, (_unused, index) => slots - 1 - index);
  }

  get active(): number {
    return this.slots - this.freeSlots.length;
  }

  get queued(): number {
    return this.waiters.length;
  }

  /**
   * Resolves with a slot as soon as one is free, in arrival order. `choose` picks among the free slots
   * (e.g. the one whose state already holds most of the prompt); by default the most recently freed.
   */
  acquire(signal?: AbortSignal, choose?: (freeSlots: readonly number[]) => number): Promise<SlotLease> {
    if (this.closedReason) return Promise.reject(this.closedReason);
    if (signal?.aborted) return Promise.reject(new ClawError("cancelled", "The request was cancelled before it started."));
    if (this.freeSlots.length > 0) {
      const chosen = choose ? choose(this.freeSlots) : (this.freeSlots.at(-1) as number);
      this.freeSlots.splice(this.freeSlots.indexOf(chosen), 1);
      return Promise.resolve(this.lease(chosen));
    }
    if (this.waiters.length >= this.maxQueue) {
      return Promise.reject(
        new ClawError("overloaded", `All ${this.slots} sequences are busy and ${this.waiters.length} requests are queued; retry later.`),
      );
    }
    return new Promise<SlotLease>((resolve, reject) => {
      const onAbort = () => {
        const index = this.waiters.indexOf(waiter);
        if (index >= 0) this.waiters.splice(index, 1);
        reject(new ClawError("cancelled", "The request was cancelled while queued."));
      };
      const waiter: Waiter = {
        resolve: (lease) => {
          signal?.removeEventListener("abort", onAbort);
          resolve(lease);
        },
        reject: (error) => {
          signal?.removeEventListener("abort", onAbort);
          reject(error);
        },
      };
      signal?.addEventListener("abort", onAbort, { once: true });
      this.waiters.push(waiter);
    });
  }

  /** Refuses queued and future requests with the given error. */
  close(reason: ClawError): void {
    this.closedReason = reason;
    for (const waiter of this.waiters.splice(0)) waiter.reject(reason);
  }

  private lease(slot: number): SlotLease {
    let released = false;
    return {
      slot,
      release: () => {
        if (released) return;
        released = true;
        const next = this.waiters.shift();
        if (next) next.resolve(this.lease(slot));
        else this.freeSlots.push(slot);
      },
    };
  }
}
