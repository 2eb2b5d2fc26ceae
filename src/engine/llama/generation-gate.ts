// Pauses every generation between tokens while a sequence's old tokens are erased.
//
// node-llama-cpp decodes all sequences of a context in one loop that holds the context lock for as long as any
// decode is queued, and erasing tokens from a sequence needs that lock. Without a pause, a request that reuses a
// sequence would wait until every other generation had finished. Pausing the token pulls empties the queue for
// one batch, the loop releases the lock, the erase runs, and generation resumes.
export class GenerationGate {
  private preparing = 0;
  private waiting: (() => void)[] = [];

  /** Runs work (an erase on a sequence) with every generation paused at its next token. */
  async prepare<T>(work: () => Promise<T>): Promise<T> {
    this.preparing += 1;
    try {
      return await work();
    } finally {
      this.preparing -= 1;
      if (this.preparing === 0) for (const resume of this.waiting.splice(0)) resume();
    }
  }

  /** Resolves at once unless a preparation is running; then when it is done. */
  pass(): Promise<void> | undefined {
    if (this.preparing === 0) return undefined;
    return new Promise((resolve) => this.waiting.push(resolve));
  }
}
