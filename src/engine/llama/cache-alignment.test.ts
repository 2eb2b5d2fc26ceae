// Unit tests of alignCache: the shared prefix, and the trimmed history found between it and the kept part.
import fc from "fast-check";
import type { Token } from "node-llama-cpp";
import { describe, expect, it } from "vitest";
import { alignCache } from "./cache-alignment.js";

const tokens = (...values: number[]) => values as Token[];
const range = (from: number, count: number) => tokens(...Array.from({ length: count }, (_unused, index) => from + index));

describe("alignCache", () => {
  it("keeps only the shared prefix when the prompt continues what the sequence holds", () => {
    const held = [...range(1, 10), ...range(100, 30)];
    const prompt = [...held, ...range(500, 5)];
    expect(alignCache(held, prompt, true)).toEqual({ prefix: 40, dropped: 0, kept: 0 });
  });

  it("finds the dropped exchanges between the system prompt and the kept history", () => {
    const system = range(1, 10);
    const dropped = range(200, 25);
    const kept = range(300, 40);
    const held = [...system, ...dropped, ...kept, ...range(900, 3)];
    const prompt = [...system, ...kept, ...range(600, 8)];
    expect(alignCache(held, prompt, true)).toEqual({ prefix: 10, dropped: 25, kept: 40 });
  });

  it("counts a dropped message that starts like the kept one into the prefix", () => {
    // "game number 0 …" dropped, "game number 8 …" kept: the prefix runs into the dropped message.
    const system = range(1, 5);
    const common = range(50, 4);
    const held = [...system, ...common, ...range(200, 20), ...common, ...range(300, 30)];
    const prompt = [...system, ...common, ...range(300, 30), 7 as Token];
    expect(alignCache(held, prompt, true)).toEqual({ prefix: 9, dropped: 24, kept: 30 });
  });

  it("does not drop anything without shifting, with nothing shared, or to keep only a few tokens", () => {
    const held = [...range(1, 10), ...range(200, 25), ...range(300, 40)];
    const prompt = [...range(1, 10), ...range(300, 40), 5 as Token];
    expect(alignCache(held, prompt, false)).toEqual({ prefix: 10, dropped: 0, kept: 0 });
    expect(alignCache(range(200, 65), range(230, 20), true)).toEqual({ prefix: 0, dropped: 0, kept: 0 });
    const short = [...range(1, 10), ...range(300, 8), 5 as Token];
    expect(alignCache(held, short, true)).toEqual({ prefix: 10, dropped: 0, kept: 0 });
  });

  it("always describes tokens the prompt starts with", () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 3 }), { maxLength: 60 }), fc.array(fc.integer({ min: 0, max: 3 }), { maxLength: 60 }), (heldValues, promptValues) => {
        const held = heldValues as Token[];
        const prompt = promptValues as Token[];
        const { prefix, dropped, kept } = alignCache(held, prompt, true, 2);
        const result = [...held.slice(0, prefix), ...held.slice(prefix + dropped, prefix + dropped + kept)];
        expect(prefix + dropped + kept).toBeLessThanOrEqual(held.length);
        expect(result).toEqual(prompt.slice(0, result.length));
        if (dropped === 0) expect(kept).toBe(0);
      }),
    );
  });
});
