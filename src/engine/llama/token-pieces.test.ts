import { describe, expect, it } from "vitest";
import { vocabularyBytes } from "./token-pieces.js";

describe("vocabularyBytes", () => {
  it("reads SentencePiece byte tokens and spaces", () => {
    expect(vocabularyBytes("<0xE2>", "spm")).toEqual([0xe2]);
    expect(vocabularyBytes("\u2581Once", "spm")).toEqual([...Buffer.from(" Once")]);
  });

  it("reads byte-level BPE text: one printable character per byte", () => {
    // "Ġ" is the space, "âĢ" the first two bytes of "—" (E2 80 94).
    expect(vocabularyBytes("Ġhi", "bpe")).toEqual([0x20, 0x68, 0x69]);
    expect(vocabularyBytes("âĢ", "bpe")).toEqual([0xe2, 0x80]);
    expect(vocabularyBytes("€", "bpe")).toBeUndefined();
  });

  it("knows nothing of other vocabularies", () => {
    expect(vocabularyBytes("x", "wpm")).toBeUndefined();
  });
});
