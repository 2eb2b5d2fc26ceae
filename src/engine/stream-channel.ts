// A one-producer, one-consumer async queue that turns callbacks into an async iterator.
export class StreamChannel<T> implements AsyncIterable<T> {
  private readonly items: T[] = [];
  private pending: ((result: IteratorResult<T>) => void) | undefined;
  private ended = false;

  push(item: T): void {
    if (this.ended) return;
    const pending = this.pending;
    if (pending) {
      this.pending = undefined;
      pending({ value: item, done: false });
    } else {
      this.items.push(item);
    }
  }

  end(): void {
    this.ended = true;
    const pending = this.pending;
    this.pending = undefined;
    pending?.({ value: undefined, done: true });
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<T> {
    for (;;) {
      if (this.items.length > 0) {
        yield this.items.shift() as T;
        continue;
      }
      if (this.ended) return;
      const result = await new Promise<IteratorResult<T>>((resolve) => (this.pending = resolve));
      if (result.done) return;
      yield result.value;
    }
  }
}
