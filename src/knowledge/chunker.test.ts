// The chunker: paragraph and sentence boundaries in Chinese and English, overlap, and the token limit.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { chunkText, estimateTokens } from "./chunker.js";

/** One token per word or CJK character: easy to reason about in the cases below. */
const words = (text: string) => (text.match(/[\u4e00-\u9fff]|[^\s\u4e00-\u9fff]+/gu) ?? []).length;

describe("estimateTokens", () => {
  it("counts each CJK character as a token and other runs at about four characters a token", () => {
    expect(estimateTokens("")).toBe(0);
    expect(estimateTokens("病历")).toBe(2);
    expect(estimateTokens("abcdefgh")).toBe(2);
    expect(estimateTokens("abcde病历abc")).toBe(2 + 2 + 1);
    expect(estimateTokens("。！")).toBe(2);
  });
});

describe("chunkText", () => {
  it("returns nothing for an empty or blank text, and one chunk for a short one", () => {
    expect(chunkText("", { maxTokens: 10, overlapTokens: 0 })).toEqual([]);
    expect(chunkText(" \n\n \t", { maxTokens: 10, overlapTokens: 0 })).toEqual([]);
    expect(chunkText("  One short sentence.  ", { maxTokens: 10, overlapTokens: 0, countTokens: words })).toEqual([
      { text: "One short sentence.", tokens: 3 },
    ]);
  });

  it("cuts at a paragraph boundary when the next paragraph fits a chunk of its own", () => {
    const text = "Alpha one two. Alpha three four.\n\nBeta one two. Beta three four.";
    const chunks = chunkText(text, { maxTokens: 10, overlapTokens: 0, countTokens: words });
    expect(chunks.map((chunk) => chunk.text)).toEqual(["Alpha one two. Alpha three four.", "Beta one two. Beta three four."]);
    expect(chunks.map((chunk) => chunk.tokens)).toEqual([6, 6]);
  });

  it("cuts English at sentence ends, never inside a sentence that fits", () => {
    const text = "The patient has a fever. She was given fluids! Does it help? Yes it does.";
    const chunks = chunkText(text, { maxTokens: 8, overlapTokens: 0, countTokens: words });
    expect(chunks.map((chunk) => chunk.text)).toEqual(["The patient has a fever.", "She was given fluids! Does it help?", "Yes it does."]);
    // "3.5 mg" and "e.g." are not sentence ends: the period is not followed by a space.
    expect(chunkText("Take 3.5 mg daily.", { maxTokens: 3, overlapTokens: 0, countTokens: words }).map((chunk) => chunk.text)).toEqual([
      "Take 3.5 mg",
      "daily.",
    ]);
  });

  it("cuts Chinese at 。！？；… and joins Chinese sentences without spaces", () => {
    const text = "患者发热三天。伴有咳嗽！是否肺炎？建议复查；观察……好转。";
    const chunks = chunkText(text, { maxTokens: 8, overlapTokens: 0, countTokens: words });
    for (const chunk of chunks) expect(chunk.tokens).toBeLessThanOrEqual(8);
    expect(chunks.map((chunk) => chunk.text)).toEqual(["患者发热三天。", "伴有咳嗽！", "是否肺炎？", "建议复查；观察……", "好转。"]);
    const wide = chunkText(text, { maxTokens: 14, overlapTokens: 0, countTokens: words });
    expect(wide.map((chunk) => chunk.text)).toEqual(["患者发热三天。伴有咳嗽！", "是否肺炎？建议复查；观察……", "好转。"]);
  });

  it("repeats the previous chunk's last sentences, up to overlap_tokens, at the start of the next", () => {
    const text = "A1 a a. B2 b b. C3 c c. D4 d d.";
    const chunks = chunkText(text, { maxTokens: 6, overlapTokens: 3, countTokens: words });
    expect(chunks.map((chunk) => chunk.text)).toEqual(["A1 a a. B2 b b.", "B2 b b. C3 c c.", "C3 c c. D4 d d."]);
    // An overlap smaller than one sentence repeats nothing.
    expect(chunkText(text, { maxTokens: 6, overlapTokens: 2, countTokens: words }).map((chunk) => chunk.text)).toEqual([
      "A1 a a. B2 b b.",
      "C3 c c. D4 d d.",
    ]);
  });

  it("cuts an overlong sentence by tokens, at spaces in English", () => {
    const sentence = Array.from({ length: 25 }, (_value, index) => `w${index}`).join(" ");
    const chunks = chunkText(sentence, { maxTokens: 10, overlapTokens: 0, countTokens: words });
    expect(chunks.map((chunk) => chunk.tokens)).toEqual([10, 10, 5]);
    expect(chunks.map((chunk) => chunk.text).join(" ")).toBe(sentence);
    const chinese = "这".repeat(25);
    expect(chunkText(chinese, { maxTokens: 10, overlapTokens: 0 }).map((chunk) => chunk.text)).toEqual(["这".repeat(10), "这".repeat(10), "这".repeat(5)]);
  });

  it("never exceeds max_tokens and loses no text, for any text (estimated tokens)", () => {
    const piece = fc.constantFrom("病历", "发热。", "咳嗽！", " ", "\n", "\n\n", "word ", "end. ", "what? ", "x".repeat(30), "；", "…");
    fc.assert(
      fc.property(fc.array(piece, { maxLength: 80 }), fc.integer({ min: 4, max: 40 }), fc.integer({ min: 0, max: 30 }), (parts, maxTokens, overlap) => {
        const text = parts.join("");
        const overlapTokens = Math.min(overlap, Math.floor(maxTokens / 2) - 1);
        const chunks = chunkText(text, { maxTokens, overlapTokens: Math.max(0, overlapTokens) });
        for (const chunk of chunks) {
          expect(chunk.tokens).toBeLessThanOrEqual(maxTokens);
          expect(chunk.tokens).toBe(estimateTokens(chunk.text));
          expect(chunk.text).toBe(chunk.text.trim());
          expect(chunk.text).not.toBe("");
        }
        const squeeze = (value: string) => value.replace(/\s+/g, "");
        const all = squeeze(chunks.map((chunk) => chunk.text).join(""));
        // Every non-blank character of the text is in some chunk, in order (overlap repeats some).
        let position = 0;
        for (const character of squeeze(text)) {
          const found = all.indexOf(character, position);
          expect(found).toBeGreaterThanOrEqual(0);
          position = found + 1;
        }
        if (overlapTokens <= 0) expect(all).toBe(squeeze(text));
      }),
      { numRuns: 300 },
    );
  });
});
