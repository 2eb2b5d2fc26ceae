import { describe, expect, it } from "vitest";
import { EchoEngine } from "./echo-engine.js";
import { echoEmbedding, echoEmbeddingDimensions } from "./echo-embedding.js";

const dot = (a: number[], b: number[]) => a.reduce((sum, value, index) => sum + value * (b[index] as number), 0);

describe("echoEmbedding", () => {
  it("is deterministic, normalized, of the fixed size, and ignores word order and case", () => {
    const vector = echoEmbedding("The cat sat on the mat");
    expect(vector).toHaveLength(echoEmbeddingDimensions);
    expect(Math.hypot(...vector)).toBeCloseTo(1, 10);
    expect(echoEmbedding("the MAT the on sat cat")).toEqual(vector);
    expect(echoEmbedding("The cat sat on the mat")).toEqual(vector);
  });

  it("scores texts that share words above texts that share none", () => {
    const base = echoEmbedding("red apple pie with cream");
    expect(dot(base, echoEmbedding("apple pie with cream"))).toBeGreaterThan(dot(base, echoEmbedding("blue ocean waves at night")));
  });

  it("gives a text without words a vector of its own", () => {
    expect(Math.hypot(...echoEmbedding("!!!"))).toBeCloseTo(1, 10);
    expect(echoEmbedding("!!!")).not.toEqual(echoEmbedding("???"));
  });
});

describe("EchoEngine.embed", () => {
  it("embeds each text in order, counting one token per word plus one", async () => {
    const engine = new EchoEngine({ parallel: 1, maxQueue: 0, contextSize: 16 });
    const result = await engine.embed(["a b", "c"]);
    expect(result.vectors).toEqual([echoEmbedding("a b"), echoEmbedding("c")]);
    expect(result.promptTokens).toBe(3 + 2);
    await expect(engine.embed(["ok", "word ".repeat(20)])).rejects.toMatchObject({ code: "context_length_exceeded", param: "input[1]" });
  });
});
