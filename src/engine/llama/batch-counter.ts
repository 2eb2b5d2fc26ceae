// Fills each llama.cpp batch as node-llama-cpp's "maximumParallelism" strategy does, in ascending sequence order, and counts decodes and tokens.
import type { BatchItem, CustomBatchingPrioritizationStrategy, PrioritizedBatchItem, Token } from "node-llama-cpp";
import type { DecodeBatch, DecodeStats } from "../language-model.js";

/** Finds the sequence a batch item's tokens were queued for (undefined when unknown). */
export type SequenceOfTokens = (tokens: readonly Token[]) => number | undefined;

export class BatchCounter {
  readonly stats: DecodeStats = { decodes: 0, tokens: 0, sequences: 0 };
  private sequenceOf: SequenceOfTokens = () => undefined;
  /** Told of every batch (the metrics' batch-size histogram). */
  private readonly listeners = new Set<(batch: DecodeBatch) => void>();

  /** Calls `listener` with each batch's tokens and sequences, just before its decode; returns the unsubscribe function. */
  onBatch(listener: (batch: DecodeBatch) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Set once the context exists: how to tell which sequence each batch item belongs to. */
  orderBy(sequenceOf: SequenceOfTokens): void {
    this.sequenceOf = sequenceOf;
  }

  /**
   * The context's `batching.itemPrioritizationStrategy`: node-llama-cpp calls it once per batch, just before the decode.
   * Every sequence gets an equal share of the batch, the rest goes to the longest pending items in order (the
   * maximumParallelism strategy, which the package does not export, simplified: the items are our own sequences).
   */
  readonly strategy: CustomBatchingPrioritizationStrategy = ({ items: queued, size }) => {
    const items = this.inSequenceOrder(queued);
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

  /**
   * The items in ascending sequence order (items of unknown sequences last, as queued). llama.cpp needs it: with a KV
   * cache per sequence (not unified, as node-llama-cpp creates the context) it splits a batch whose sequence ids do not
   * ascend into one decode per token, which costs as much as decoding them one after the other. Measured: 8
   * sequences of the 12×768 bench model, one token each, 55 ms per batch in ascending order, 134–141 ms reversed or
   * shuffled; the order generations queue their decodes in is not theirs to choose.
   */
  private inSequenceOrder(items: readonly BatchItem[]): readonly BatchItem[] {
    if (items.length < 2) return items;
    const keyed = items.map((item, index) => ({ item, key: this.sequenceOf(item.tokens) ?? Number.MAX_SAFE_INTEGER, index }));
    keyed.sort((first, second) => first.key - second.key || first.index - second.index);
    return keyed.map(({ item }) => item);
  }

  private count(batch: readonly { item: BatchItem; processAmount: number }[]): void {
    if (batch.length === 0) return;
    let tokens = 0;
    for (const { processAmount } of batch) tokens += processAmount;
    this.stats.decodes += 1;
    this.stats.sequences += batch.length;
    this.stats.tokens += tokens;
    for (const listener of this.listeners) {
      try {
        listener({ tokens, sequences: batch.length });
      } catch {
        // A listener's failure never stops a decode.
      }
    }
  }
}
