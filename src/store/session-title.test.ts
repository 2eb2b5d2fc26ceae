// The title rule of the `sessions` frame: the first question, whitespace collapsed, at most 80 characters, surrogate pairs whole.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { sessionTitle, titleLength } from "./session-title.js";

describe("sessionTitle", () => {
  it("keeps a short question as it is", () => {
    expect(sessionTitle("Where is ward 3?")).toBe("Where is ward 3?");
  });

  it("collapses runs of whitespace (newlines, tabs, ideographic spaces) and trims the ends", () => {
    expect(sessionTitle("  first\n\n line\t\tsecond\u3000part  ")).toBe("first line second part");
  });

  it("cuts to 80 characters", () => {
    const title = sessionTitle("word ".repeat(40) + "end");
    expect(Array.from(title)).toHaveLength(79); // the 80th character was a space, trimmed
    expect(sessionTitle("x".repeat(200))).toBe("x".repeat(80));
  });

  it("never splits a surrogate pair: 80 emoji stay 80 whole emoji", () => {
    const title = sessionTitle("😀".repeat(100));
    expect(title).toBe("😀".repeat(80));
    expect(title.length).toBe(160);
    expect(sessionTitle(`${"a".repeat(79)}😀😀`)).toBe(`${"a".repeat(79)}😀`);
  });

  it("is empty without a question", () => {
    expect(sessionTitle(null)).toBe("");
    expect(sessionTitle(" \n ")).toBe("");
  });

  it("always gives a prefix of the collapsed text, at most 80 code points, with no lone surrogate made by the cut", () => {
    fc.assert(
      fc.property(fc.string({ unit: "grapheme", maxLength: 200 }), (text) => {
        const title = sessionTitle(text);
        expect(Array.from(title).length).toBeLessThanOrEqual(titleLength);
        expect(text.replace(/\s+/gu, " ").trim().startsWith(title)).toBe(true);
        expect(title).not.toMatch(/[\ud800-\udbff]$/);
      }),
    );
  });
});
