// Bounded, nearly FIFO admission to a fixed number of slots: a freed slot goes to the waiter it suits best among the first few,
// the head within a bounded number of releases; a full queue (or an owner's full share of it) refuses at once with `overloaded`.
import { ClawError } from "../core/errors.js";

/** Who a request belongs to, so that one owner (a token subject) cannot fill the whole queue. */
export interface QueueOwner {
  key: string;
  /** How many of this owner's requests may wait at once. */
  maxQueued: number;
}

export interface SlotLease {
  /** Index of the slot (sequence) this request may use until it releases it. */
  readonly slot: number;
  release(): void;
}

/** How much of a request's work a slot already holds (e.g. cached prompt tokens); 0 when nothing worth waiting for. */
export type SlotScore = (slot: number) => number;

export interface AdmissionQueueOptions {
  /** How many waiters at the front of the queue a freed slot may go to (default 8). */
  lookahead?: number;
  /** How many times the head waiter may be passed over before it gets the next freed slot whatever the scores (default 4). */
  maxPassOver?: number;
}

interface Waiter {
  owner: string | undefined;
  score: SlotScore | undefined;
  /** Times a freed slot went to a waiter behind this one. */
  passedOver: number;
  resolve(lease: SlotLease): void;
  reject(error: unknown): void;
}

export class AdmissionQueue {
  private readonly freeSlots: number[];
  private readonly waiters: Waiter[] = [];
  /** Waiting requests per owner key (only owners with at least one). */
  private readonly queuedByOwner = new Map<string, number>();
  private closedReason: ClawError | undefined;
  private readonly lookahead: number;
  private readonly maxPassOver: number;

  constructor(
    readonly slots: number,
    readonly maxQueue: number,
    options: AdmissionQueueOptions = {},
  ) {
    this.freeSlots = Array.from({ length: slots }, (_unused, index) => slots - 1 - index);
    this.lookahead = Math.max(1, options.lookahead ?? 8);
    this.maxPassOver = Math.max(0, options.maxPassOver ?? 4);
  }

  get active(): number {
    return this.slots - this.freeSlots.length;
  }

  get queued(): number {
    return this.waiters.length;
  }

  /** Requests of this owner waiting for a slot. */
  queuedFor(owner: string): number {
    return this.queuedByOwner.get(owner) ?? 0;
  }

  /**
   * Resolves with a slot as soon as one is free. `choose` picks among the free slots (e.g. the one whose state
   * already holds most of the prompt); by default the most recently freed. A request that waits gets a freed slot in
   * arrival order, unless `score` says that slot holds more of its work than of the waiters' ahead of it (see
   * `release`). With an `owner`, a request that would have to wait is refused when that owner already has
   * `maxQueued` waiting.
   */
  acquire(signal?: AbortSignal, choose?: (freeSlots: readonly number[]) => number, owner?: QueueOwner, score?: SlotScore): Promise<SlotLease> {
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
    if (owner && this.queuedFor(owner.key) >= owner.maxQueued) {
      return Promise.reject(
        new ClawError(
          "overloaded",
          `You already have ${this.queuedFor(owner.key)} requests waiting: the per-user limit is ${owner.maxQueued} of the ${this.maxQueue} queue places (limits.queue_share_per_subject); retry when one has started.`,
        ),
      );
    }
    return new Promise<SlotLease>((resolve, reject) => {
      const onAbort = () => {
        const index = this.waiters.indexOf(waiter);
        if (index >= 0) {
          this.waiters.splice(index, 1);
          this.leaveQueue(waiter);
        }
        reject(new ClawError("cancelled", "The request was cancelled while queued."));
      };
      const waiter: Waiter = {
        owner: owner?.key,
        score,
        passedOver: 0,
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
      if (waiter.owner !== undefined) this.queuedByOwner.set(waiter.owner, this.queuedFor(waiter.owner) + 1);
    });
  }

  /** Refuses queued and future requests with the given error. */
  close(reason: ClawError): void {
    this.closedReason = reason;
    for (const waiter of this.waiters.splice(0)) {
      this.leaveQueue(waiter);
      waiter.reject(reason);
    }
  }

  /** Forgets a waiter that left the queue (admitted, cancelled or refused) in its owner's count. */
  private leaveQueue(waiter: Waiter): void {
    if (waiter.owner === undefined) return;
    const left = this.queuedFor(waiter.owner) - 1;
    if (left > 0) this.queuedByOwner.set(waiter.owner, left);
    else this.queuedByOwner.delete(waiter.owner);
  }

  private lease(slot: number): SlotLease {
    let released = false;
    return {
      slot,
      release: () => {
        if (released) return;
        released = true;
        const next = this.nextWaiterFor(slot);
        if (next) {
          this.leaveQueue(next);
          next.resolve(this.lease(slot));
        } else this.freeSlots.push(slot);
      },
    };
  }

  /**
   * Takes the waiter a freed slot goes to: among the first `lookahead` waiters, the one it holds the most work of
   * (ties to the earliest), so a conversation returns to the sequence that holds it; the head unless another scores
   * higher, and always once the head has been passed over `maxPassOver` times, so nobody waits unboundedly.
   */
  private nextWaiterFor(slot: number): Waiter | undefined {
    const head = this.waiters[0];
    if (!head) return undefined;
    let chosen = 0;
    if (head.passedOver < this.maxPassOver) {
      let best = head.score?.(slot) ?? 0;
      const end = Math.min(this.lookahead, this.waiters.length);
      for (let index = 1; index < end; index += 1) {
        const score = this.waiters[index]?.score?.(slot) ?? 0;
        if (score > best) {
          best = score;
          chosen = index;
        }
      }
    }
    for (let index = 0; index < chosen; index += 1) (this.waiters[index] as Waiter).passedOver += 1;
    return this.waiters.splice(chosen, 1)[0];
  }
}
