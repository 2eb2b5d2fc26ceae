// splitMessage: byte limit, boundaries preferred, code fences closed and reopened, graphemes kept whole (examples and fast-check properties).
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { splitMessage, splitMessageParts } from "./message-splitter.js";

const bytes = (text: string) => Buffer.byteLength(text);
const loneSurrogate = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** Whether a fenced code block is still open at the end of `text` (an independent line-by-line reading of CommonMark fences). */
function endsInsideFence(text: string): boolean {
  let open: string | undefined;
  for (const line of text.split("\n")) {
    const match = /^ {0,3}(`{3,}|~{3,})(.*)$/.exec(line);
    if (!match) continue;
    const [, marker, rest] = match as unknown as [string, string, string];
    if (open === undefined) {
      if (!(marker.startsWith("`") && rest.includes("`"))) open = marker;
    } else if (marker[0] === open[0] && marker.length >= open.length && rest.trim() === "") {
      open = undefined;
    }
  }
  return open !== undefined;
}

const fragment = fc.constantFrom(
  "hello", "world", "a", "supercalifragilistic", "3.14", " ", " ", "\n", "\n\n", ". ", "! ", "，", "。", "中文字符", "한국어",
  "e\u0301", "👍🏽", "👨‍👩‍👧‍👦", "🇨🇳", "\u{1F600}", "\n```\n", "\n```ts\n", "\n~~~~\n", "\n```py\n", "```", "`x`", "\t",
);
const message = fc.array(fragment, { minLength: 0, maxLength: 120 }).map((parts) => parts.join(""));

describe("splitMessage", () => {
  it("keeps a text that fits as one piece and gives no piece for an empty text", () => {
    expect(splitMessage("short", 100)).toEqual(["short"]);
    expect(splitMessage("", 100)).toEqual([]);
    expect(() => splitMessage("x", 4)).toThrow(RangeError);
  });

  it("prefers paragraph, then line, then sentence, then word boundaries", () => {
    expect(splitMessage("First paragraph here.\n\nSecond one.", 30)).toEqual(["First paragraph here.\n\n", "Second one."]);
    expect(splitMessage("line one is here\nline two is here", 24)).toEqual(["line one is here\n", "line two is here"]);
    expect(splitMessage("One sentence here. Another one here.", 24)).toEqual(["One sentence here. ", "Another one here."]);
    expect(splitMessage("alpha beta gamma delta epsilon", 20)).toEqual(["alpha beta gamma ", "delta epsilon"]);
  });

  it("never cuts a UTF-8 character or a grapheme: CJK, emoji with modifiers, a family, a combining accent", () => {
    const text = "中文字符".repeat(10) + "👨‍👩‍👧‍👦".repeat(4) + "e\u0301".repeat(10);
    const pieces = splitMessage(text, 110);
    expect(pieces.join("")).toBe(text);
    for (const piece of pieces) {
      expect(bytes(piece)).toBeLessThanOrEqual(110);
      expect(piece.startsWith("\u0301") || piece.startsWith("\u200d")).toBe(false);
    }
    expect(pieces.some((piece) => piece.endsWith("👨‍👩‍👧‍👦") || piece.startsWith("👨‍👩‍👧‍👦"))).toBe(true);
    expect(pieces.some((piece) => /[\u200d]$/.test(piece) || /^[\u200d]/.test(piece))).toBe(false);
  });

  it("closes a code block cut in two and reopens it with the same fence and info string", () => {
    const code = Array.from({ length: 8 }, (_, index) => `const value${index} = ${index};`).join("\n");
    const pieces = splitMessage(`Here:\n\n~~~~typescript\n${code}\n~~~~\nDone.`, 90);
    expect(pieces.length).toBeGreaterThan(2);
    const inner = pieces.filter((piece) => piece.includes("const"));
    for (const piece of inner) {
      expect(piece).toMatch(/^(Here:\n\n)?~~~~typescript\n/);
      expect(piece).toMatch(/\n~~~~(\n|\nDone\.)?$/);
    }
  });

  it("cuts a huge grapheme (stacked combining marks) rather than exceed the limit", () => {
    const zalgo = `a${"\u0301".repeat(100)}`;
    const pieces = splitMessage(zalgo, 40);
    expect(pieces.join("")).toBe(zalgo);
    for (const piece of pieces) expect(bytes(piece)).toBeLessThanOrEqual(40);
  });

  it("properties: pieces fit, join back modulo the fence lines, no lone surrogates, fences balanced", () => {
    fc.assert(
      fc.property(message, fc.integer({ min: 24, max: 200 }), (text, maxBytes) => {
        // A fence line longer than the reopen allowance cannot be kept whole or reopened (documented); not generated here.
        fc.pre(text.split("\n").every((line) => !/^ {0,3}(`{3,}|~{3,})/.test(line) || bytes(line) <= maxBytes / 4));
        const parts = splitMessageParts(text, maxBytes);
        expect(parts.map((part) => part.body).join("")).toBe(text);
        parts.forEach((part, index) => {
          const piece = part.prefix + part.body + part.suffix;
          expect(bytes(piece)).toBeLessThanOrEqual(maxBytes);
          expect(part.body.length).toBeGreaterThan(0);
          expect(loneSurrogate.test(piece)).toBe(false);
          expect(part.prefix === "" || /^ {0,3}(`{3,}|~{3,}).*\n$/.test(part.prefix)).toBe(true);
          expect(part.suffix === "" || /^\n?(`{3,}|~{3,})$/.test(part.suffix)).toBe(true);
          const last = index === parts.length - 1;
          expect(endsInsideFence(piece)).toBe(last ? endsInsideFence(text) : false);
        });
        expect(splitMessage(text, maxBytes)).toEqual(parts.map((part) => part.prefix + part.body + part.suffix));
      }),
      { numRuns: 400 },
    );
  });
});
