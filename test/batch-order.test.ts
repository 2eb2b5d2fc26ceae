// The batching strategy lists each batch's sequences in ascending order, whatever order their decodes were queued in.
import { getLlama, type Token } from "node-llama-cpp";
import { describe, expect, it } from "vitest";
import { BatchCounter } from "../src/engine/llama/batch-counter.js";
import { queuedSequenceLookup } from "../src/engine/llama/queued-sequence-lookup.js";
import { testModelPath } from "./helpers/test-model.js";

describe("batch order", () => {
  it("reads each queued decode's sequence from node-llama-cpp and puts the batch in ascending sequence order", async () => {
    const llama = await getLlama({ gpu: false, build: "never" });
    const model = await llama.loadModel({ modelPath: await testModelPath() });
    const counter = new BatchCounter();
    const batches: (number | undefined)[][] = [];
    let lookup: ReturnType<typeof queuedSequenceLookup> = () => undefined;
    const context = await model.createContext({
      contextSize: 256,
      sequences: 3,
      threads: 1,
      batching: {
        itemPrioritizationStrategy: (options) => {
          const batch = counter.strategy(options);
          batches.push(batch.map(({ item }) => lookup(item.tokens)));
          return batch;
        },
      },
    });
    try {
      lookup = queuedSequenceLookup(context);
      counter.orderBy(lookup);
      const sequences = [context.getSequence(), context.getSequence(), context.getSequence()];
      // Queued last sequence first: without the ordering the batch would list them as queued.
      await Promise.all([2, 0, 1].map((index) => sequences[index]!.evaluateWithoutGeneratingNewTokens([1, 20 + index, 30 + index] as Token[])));
      // Sequences get ids 0, 1, 2 in the order they were taken.
      expect(batches[0]).toEqual([0, 1, 2]);
      expect(counter.stats.tokens).toBe(9);
    } finally {
      await context.dispose();
      await model.dispose();
      await llama.dispose();
    }
  });
});
