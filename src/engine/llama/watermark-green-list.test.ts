// Green lists: deterministic per key and previous token, a gamma share of the vocabulary, different per key and token.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { WatermarkGreenLists } from "./watermark-green-list.js";

const key = "a-watermark-key-of-some-length";

describe("WatermarkGreenLists", () => {
  it("gives the same list for the same key and previous token, also from a fresh instance and after cache eviction", () => {
    const first = new WatermarkGreenLists(key, 0.25, 512);
    const second = new WatermarkGreenLists(key, 0.25, 512, 8 * 128);
    const reference = Array.from(first.tokens(7));
    for (let previous = 0; previous < 40; previous++) second.tokens(previous);
    expect(Array.from(second.tokens(7))).toEqual(reference);
    expect(Array.from(first.tokens(7))).toEqual(reference);
  });

  it("holds round(gamma × V) distinct tokens, each inside the vocabulary, and isGreen agrees with the list", () => {
    fc.assert(
      fc.property(fc.integer({ min: 2, max: 5000 }), fc.double({ min: 0.01, max: 0.99, noNaN: true }), fc.nat(100_000), (size, gamma, previous) => {
        const lists = new WatermarkGreenLists(key, gamma, size);
        const tokens = Array.from(lists.tokens(previous));
        const expected = Math.max(1, Math.min(size - 1, Math.round(gamma * size)));
        expect(tokens.length).toBe(expected);
        expect(new Set(tokens).size).toBe(expected);
        for (const token of tokens) expect(token).toBeLessThan(size);
        let green = 0;
        for (let token = 0; token < size; token++) if (lists.isGreen(previous, token)) green += 1;
        expect(green).toBe(expected);
      }),
      { numRuns: 60 },
    );
  });

  it("spreads each token's green share near gamma over many previous tokens (no token always green)", () => {
    const size = 512;
    const lists = new WatermarkGreenLists(key, 0.25, size);
    const counts = new Array<number>(size).fill(0);
    const previousTokens = 2000;
    for (let previous = 0; previous < previousTokens; previous++) for (const token of lists.tokens(previous)) counts[token] = (counts[token] ?? 0) + 1;
    // Binomial(2000, 0.25): mean 500, sd ≈ 19.4; ±6 sd over 512 tokens.
    for (const count of counts) {
      expect(count).toBeGreaterThan(500 - 6 * 19.4);
      expect(count).toBeLessThan(500 + 6 * 19.4);
    }
  });

  it("differs between keys and between previous tokens (overlap near gamma, as for independent lists)", () => {
    const size = 4096;
    const a = new WatermarkGreenLists(key, 0.25, size);
    const b = new WatermarkGreenLists(`${key}-other`, 0.25, size);
    const overlap = (left: Uint32Array, right: Uint32Array) => {
      const set = new Set(left);
      return Array.from(right).filter((token) => set.has(token)).length / right.length;
    };
    // Independent 1024-of-4096 lists overlap by 0.25 ± 0.012 (sd); a shared list would give 1.
    expect(overlap(a.tokens(3), b.tokens(3))).toBeGreaterThan(0.18);
    expect(overlap(a.tokens(3), b.tokens(3))).toBeLessThan(0.32);
    expect(overlap(a.tokens(3), a.tokens(4))).toBeLessThan(0.32);
  });

  it("refuses a gamma outside (0, 1), a vocabulary under 2 tokens and an empty key", () => {
    expect(() => new WatermarkGreenLists(key, 0, 512)).toThrow(/gamma/);
    expect(() => new WatermarkGreenLists(key, 1, 512)).toThrow(/gamma/);
    expect(() => new WatermarkGreenLists(key, 0.25, 1)).toThrow(/vocabulary/);
    expect(() => new WatermarkGreenLists("", 0.25, 512)).toThrow(/key/);
  });
});
