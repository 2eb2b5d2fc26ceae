// Bounded, nearly FIFO admission to a fixed number of slots: a freed slot goes to the waiter it suits best among the first few
// or is held briefly for a returning request, the head within a bounded number of pass-overs; a full queue (or an owner's
// full share of it) refuses at once with `overloaded`.
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
  /**
   * Gives the slot back. With `hold`, when requests are waiting and none of them scores on the slot, it is kept for
   * up to `ms` for the next request with that key (the conversation's next turn, usually on its way), then goes on.
   */
  release(hold?: SlotHold): void;
}

export interface SlotHold {
  key: string;
  ms: number;
}

export interface AcquireOptions {
  /** Picks among the free slots (e.g. the one whose state already holds most of the prompt); by default the most recently freed. */
  choose?: (freeSlots: readonly number[]) => number;
  /** Whose request it is: a request that would wait is refused when its owner already has `maxQueued` waiting. */
  owner?: QueueOwner;
  /** How much of this request's work a slot holds, to pick the waiter a freed slot goes to. */
  score?: SlotScore;
  /** Which held slot this request may take (see `SlotLease.release`). */
  key?: string;
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

interface Hold {
  key: string;
  slot: number;
  timer: NodeJS.Timeout;
}

export class AdmissionQueue {
  private readonly freeSlots: number[];
  private readonly waiters: Waiter[] = [];
  /** Waiting requests per owner key (only owners with at least one). */
  private readonly queuedByOwner = new Map<string, number>();
  /** Slots kept for a returning request (at most one per key). */
  private readonly holds = new Map<string, Hold>();
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
   * Resolves with a slot as soon as one is free: a slot held for its `key` at once, else a free one (`choose`), else
   * a freed slot in arrival order unless `score` says that slot holds more of its work than of the waiters' ahead of
   * it (see `pickWaiterFor`). A request that would have to wait is refused when its `owner` already has `maxQueued`
   * waiting.
   */
  acquire(signal?: AbortSignal, options: AcquireOptions = {}): Promise<SlotLease> {
    const { choose, owner, score, key } = options;
    if (this.closedReason) return Promise.reject(this.closedReason);
    if (signal?.aborted) return Promise.reject(new ClawError("cancelled", "The request was cancelled before it started."));
    const hold = key === undefined ? undefined : this.holds.get(key);
    if (hold) {
      clearTimeout(hold.timer);
      this.holds.delete(hold.key);
      // The request it was kept for came back: the head waited for it, and counts that as being passed over.
      if (this.waiters[0]) this.waiters[0].passedOver += 1;
      return Promise.resolve(this.lease(hold.slot));
    }
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
    for (const hold of this.holds.values()) clearTimeout(hold.timer);
    this.holds.clear();
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
      release: (hold) => {
        if (released) return;
        released = true;
        this.handOn(slot, hold);
      },
    };
  }

  /** A freed slot goes to a waiter, is held for a returning request (`hold`), or becomes free. */
  private handOn(slot: number, hold?: SlotHold): void {
    const pick = this.pickWaiterFor(slot);
    if (pick === undefined) {
      this.freeSlots.push(slot);
      return;
    }
    const head = this.waiters[0] as Waiter;
    if (hold && pick.score <= 0 && head.passedOver < this.maxPassOver && !this.holds.has(hold.key)) {
      const timer = setTimeout(() => {
        this.holds.delete(hold.key);
        this.handOn(slot);
      }, hold.ms);
      this.holds.set(hold.key, { key: hold.key, slot, timer });
      return;
    }
    for (let index = 0; index < pick.index; index += 1) (this.waiters[index] as Waiter).passedOver += 1;
    const next = this.waiters.splice(pick.index, 1)[0] as Waiter;
    this.leaveQueue(next);
    next.resolve(this.lease(slot));
  }

  /**
   * The waiter a freed slot goes to: among the first `lookahead` waiters, the one it holds the most work of (ties to
   * the earliest), so a conversation returns to the sequence that holds it; the head unless another scores higher,
   * and always once the head has been passed over `maxPassOver` times, so nobody waits unboundedly.
   */
  private pickWaiterFor(slot: number): { index: number; score: number } | undefined {
    const head = this.waiters[0];
    if (!head) return undefined;
    const pick = { index: 0, score: head.score?.(slot) ?? 0 };
    if (head.passedOver >= this.maxPassOver) return pick;
    const end = Math.min(this.lookahead, this.waiters.length);
    for (let index = 1; index < end; index += 1) {
      const score = this.waiters[index]?.score?.(slot) ?? 0;
      if (score > pick.score) {
        pick.index = index;
        pick.score = score;
      }
    }
    return pick;
  }
}
