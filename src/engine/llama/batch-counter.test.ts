import type { BatchItem, Token } from "node-llama-cpp";
import { describe, expect, it } from "vitest";
import { BatchCounter } from "./batch-counter.js";

function item(tokens: Token[]): BatchItem {
  return { tokens, logits: tokens.map(() => true as const), evaluationPriority: 5 };
}

describe("BatchCounter", () => {
  it("lists each batch's items in ascending sequence order, unknown ones last in queued order, and counts them", () => {
    const counter = new BatchCounter();
    const queued = [item([1 as Token]), item([2 as Token]), item([3 as Token]), item([4 as Token]), item([5 as Token])];
    const sequenceOf = new Map<readonly Token[], number>([
      [queued[0]!.tokens, 6],
      [queued[1]!.tokens, 2],
      [queued[3]!.tokens, 0],
    ]);
    counter.orderBy((tokens) => sequenceOf.get(tokens));
    const batch = counter.strategy({ items: queued, size: 512 });
    expect(batch.map(({ item }) => queued.indexOf(item))).toEqual([3, 1, 0, 2, 4]);
    expect(batch.map(({ processAmount }) => processAmount)).toEqual([1, 1, 1, 1, 1]);
    expect(counter.stats).toEqual({ decodes: 1, tokens: 5, sequences: 5 });
  });

  it("keeps the queued order when the sequences are unknown, and shares the batch size among items", () => {
    const counter = new BatchCounter();
    const queued = [item(Array.from({ length: 10 }, (_unused, index) => index as Token)), item([7 as Token, 8 as Token])];
    const batch = counter.strategy({ items: queued, size: 6 });
    expect(batch.map(({ item: chosen }) => queued.indexOf(chosen))).toEqual([0, 1]);
    expect(batch.map(({ processAmount }) => processAmount)).toEqual([4, 2]);
  });

  it("tells its listeners each batch's tokens and sequences, until they unsubscribe, and survives a listener that throws", () => {
    const counter = new BatchCounter();
    const seen: { tokens: number; sequences: number }[] = [];
    counter.onBatch(() => {
      throw new Error("broken listener");
    });
    const unsubscribe = counter.onBatch((batch) => seen.push(batch));
    counter.strategy({ items: [item([1 as Token, 2 as Token, 3 as Token]), item([4 as Token])], size: 512 });
    counter.strategy({ items: [item([5 as Token])], size: 512 });
    unsubscribe();
    counter.strategy({ items: [item([6 as Token])], size: 512 });
    expect(seen).toEqual([
      { tokens: 4, sequences: 2 },
      { tokens: 1, sequences: 1 },
    ]);
    expect(counter.stats).toEqual({ decodes: 3, tokens: 6, sequences: 4 });
  });
});
