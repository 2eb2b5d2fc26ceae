// Holds each generation's next decode until the batch in flight has returned, so every sequence joins the next batch.
//
// node-llama-cpp's batch loop decodes a batch, resolves every sequence's sampled token, and decodes again at once if
// any decode is queued by then. Handing a token to a generation and on to its consumer, and queueing the next decode,
// takes more microtasks than the loop needs to look at its queue again: the sequence sampled last kept missing the
// batch (4 streams: batches of 3). Here a generation that has its token waits until no decode of another one is in
// flight; then all waiting ones are released together after the current microtasks (process.nextTick), when the loop
// has found its queue empty and stopped. They queue their decodes one after the other, and the context's dispatch
// schedule (also nextTick, see `dispatchAfterMicrotasks`) starts one batch with all of them.
export class BatchBarrier {
  /** Generations running (started and not yet ended). */
  private generations = 0;
  /** Generations whose next-token decode is queued or running. */
  private inFlight = 0;
  private waiting: { release: () => void; counted: boolean }[] = [];
  private releaseScheduled = false;

  /** A generation starts. */
  join(): void {
    this.generations += 1;
  }

  /** A generation ended (it has no decode in flight and is not waiting). */
  leave(): void {
    this.generations -= 1;
    this.releaseWhenIdle();
  }

  /**
   * Waits for this generation's turn to queue its next token's decode, which then counts as in flight until
   * `returned()`. Resolves at once (undefined, no microtask) when it is the only generation.
   */
  turn(): Promise<void> | undefined {
    if (this.alone()) {
      this.inFlight += 1;
      return undefined;
    }
    return this.wait(true);
  }

  /**
   * Waits for the next release to queue a prompt's evaluation, so it joins the others' batch. Not counted in flight:
   * a long prompt takes several batches, and the running generations must not wait for all of them.
   */
  promptTurn(): Promise<void> | undefined {
    return this.alone() ? undefined : this.wait(false);
  }

  /** The decode queued after `turn()` has returned its token (or failed). */
  returned(): void {
    this.inFlight -= 1;
    this.releaseWhenIdle();
  }

  /** The only generation, with nothing else queued or running: no batch to share. */
  private alone(): boolean {
    return this.generations <= 1 && this.inFlight === 0 && this.waiting.length === 0;
  }

  private wait(counted: boolean): Promise<void> {
    return new Promise((release) => {
      this.waiting.push({ release, counted });
      this.releaseWhenIdle();
    });
  }

  private releaseWhenIdle(): void {
    if (this.inFlight > 0 || this.releaseScheduled || this.waiting.length === 0) return;
    this.releaseScheduled = true;
    process.nextTick(this.release);
  }

  private readonly release = (): void => {
    this.releaseScheduled = false;
    const released = this.waiting.splice(0);
    for (const { counted } of released) if (counted) this.inFlight += 1;
    for (const { release } of released) release();
  };
}

/** The context's `batching.dispatchSchedule`: start the batch once the current microtasks (the released queueing) ran. */
export function dispatchAfterMicrotasks(dispatch: () => void): void {
  process.nextTick(dispatch);
}
