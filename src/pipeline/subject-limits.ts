// Per-subject fairness over all gateways: how many requests one token subject may run or queue, and its share of the queue.
import type { LimitsConfig } from "../config/schema.js";
import { ClawError } from "../core/errors.js";
import type { QueueOwner } from "../engine/admission-queue.js";

export class SubjectLimits {
  /** Requests running or queued per subject (only subjects with at least one). */
  private readonly counts = new Map<string, number>();

  constructor(private readonly config: LimitsConfig) {}

  /**
   * Counts one request against its subject until the returned function is called (once; later calls do nothing).
   * Throws `overloaded` when the subject already has `max_requests_per_subject` running or queued.
   */
  admit(subject: string): () => void {
    const count = this.requests(subject);
    const limit = this.config.max_requests_per_subject;
    if (count >= limit) {
      throw new ClawError(
        "overloaded",
        `You already have ${count} requests running or queued: the per-user limit is ${limit} (limits.max_requests_per_subject); retry when one has finished.`,
      );
    }
    this.counts.set(subject, count + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const left = this.requests(subject) - 1;
      if (left > 0) this.counts.set(subject, left);
      else this.counts.delete(subject);
    };
  }

  /** Requests of this subject running or queued now. */
  requests(subject: string): number {
    return this.counts.get(subject) ?? 0;
  }

  /** Subjects with at least one request running or queued. */
  get subjects(): number {
    return this.counts.size;
  }

  /** The admission-queue owner for a subject: at most ceil(queue_share_per_subject × max_queue) of its requests wait. */
  queueOwner(subject: string, maxQueue: number): QueueOwner {
    return { key: subject, maxQueued: Math.ceil(this.config.queue_share_per_subject * maxQueue) };
  }
}
