import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { checkEmbeddingInputs, normalizeVector } from "./embedding-vector.js";

describe("normalizeVector", () => {
  it("scales any non-zero vector to length 1 in the same direction", () => {
    fc.assert(
      fc.property(fc.array(fc.double({ min: -1e6, max: 1e6, noNaN: true }), { minLength: 1, maxLength: 32 }), (vector) => {
        const length = Math.hypot(...vector);
        fc.pre(length > 1e-6);
        const normalized = normalizeVector(vector);
        expect(Math.hypot(...normalized)).toBeCloseTo(1, 9);
        normalized.forEach((value, index) => expect(value * length).toBeCloseTo(vector[index] as number, 3));
      }),
    );
  });

  it("leaves a zero vector at zero", () => {
    expect(normalizeVector([0, 0, 0])).toEqual([0, 0, 0]);
  });
});

describe("checkEmbeddingInputs", () => {
  const countWords = (text: string) => text.split(" ").length + 1;

  it("returns each text's token count when all fit", () => {
    expect(checkEmbeddingInputs(["a", "a b c"], 8, countWords)).toEqual([2, 4]);
  });

  it("names the first text that is empty or does not fit, before anything is computed", () => {
    expect(() => checkEmbeddingInputs(["a", "a b c d e f g"], 8, countWords)).toThrow(expect.objectContaining({ code: "context_length_exceeded", param: "input[1]" }));
    expect(() => checkEmbeddingInputs(["a", ""], 8, countWords)).toThrow(expect.objectContaining({ code: "bad_request", param: "input[1]" }));
    expect(() => checkEmbeddingInputs([], 8, countWords)).toThrow(expect.objectContaining({ code: "bad_request", param: "input" }));
  });
});
