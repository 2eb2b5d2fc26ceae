// Fills each llama.cpp batch as node-llama-cpp's "maximumParallelism" strategy does, and counts decodes and tokens.
import type { BatchItem, CustomBatchingPrioritizationStrategy, PrioritizedBatchItem } from "node-llama-cpp";
import type { DecodeStats } from "../language-model.js";

export class BatchCounter {
  readonly stats: DecodeStats = { decodes: 0, tokens: 0, sequences: 0 };

  /**
   * The context's `batching.itemPrioritizationStrategy`: node-llama-cpp calls it once per batch, just before the decode.
   * Every sequence gets an equal share of the batch, the rest goes to the longest pending items in order (the
   * maximumParallelism strategy, which the package does not export, simplified: the items are our own sequences).
   */
  readonly strategy: CustomBatchingPrioritizationStrategy = ({ items, size }) => {
    const result: PrioritizedBatchItem[] = [];
    let left = size;
    const share = Math.max(1, Math.floor(size / Math.max(1, items.length)));
    for (const item of items) {
      if (left === 0) break;
      const processAmount = Math.min(item.tokens.length, share, left);
      result.push({ item, processAmount });
      left -= processAmount;
    }
    for (const prioritized of result) {
      if (left === 0) break;
      const more = Math.min(prioritized.item.tokens.length - prioritized.processAmount, left);
      prioritized.processAmount += more;
      left -= more;
    }
    this.count(result);
    return result;
  };

  private count(batch: readonly { item: BatchItem; processAmount: number }[]): void {
    if (batch.length === 0) return;
    this.stats.decodes += 1;
    this.stats.sequences += batch.length;
    for (const { processAmount } of batch) this.stats.tokens += processAmount;
  }
}
