// Cuts a document into token-bounded chunks at paragraph, then sentence boundaries (Chinese and English), with overlap.
import type { ChunkText } from "./knowledge-types.js";

export interface ChunkerOptions {
  /** Tokens a chunk may take, at most (`knowledge.chunk.max_tokens`, lowered to the embedder's `maxTokens`). */
  maxTokens: number;
  /** Tokens of the previous chunk's last sentences repeated at the start of the next (`knowledge.chunk.overlap_tokens`). */
  overlapTokens: number;
  /** The embedding model's token count when there is one; else `estimateTokens`. */
  countTokens?: (text: string) => number;
}

/** One sentence (or a piece of an overlong one), with the whitespace that stood before it. */
interface Unit {
  text: string;
  tokens: number;
  /** "" (none), " ", "\n" (line break) or "\n\n" (paragraph break). */
  separator: string;
  paragraph: number;
}

const cjk = /[\u2E80-\u2FFF\u3000-\u303F\u3040-\u30FF\u3100-\u31FF\u3400-\u4DBF\u4E00-\u9FFF\uAC00-\uD7AF\uF900-\uFAFF\uFF00-\uFFEF]|[\u{20000}-\u{2FA1F}]/u;
const cjkGlobal = new RegExp(cjk.source, "gu");

/**
 * The token count used when no embedding model counts: each CJK character (and CJK punctuation) one token, every
 * other run of characters about four characters per token (roughly what BPE vocabularies give for English).
 */
export function estimateTokens(text: string): number {
  let tokens = 0;
  for (const run of text.split(cjkGlobal)) tokens += Math.ceil(run.length / 4);
  const cjkCount = text.match(cjkGlobal)?.length ?? 0;
  return tokens + cjkCount;
}

/**
 * A sentence ends after Chinese 。！？；… (with closing quotes or brackets), after English . ! ? followed by whitespace
 * or the end, and at a line break.
 */
const sentenceEnd = /[。！？；…]+[”’"'）)」』】]*|[.!?]+[”’"')\]]*(?=\s|$)|\n/gu;

/** The document's chunks, in order: none for an empty text; each within `maxTokens`. */
export function chunkText(text: string, options: ChunkerOptions): ChunkText[] {
  const countTokens = options.countTokens ?? estimateTokens;
  const maxTokens = Math.max(1, options.maxTokens);
  const overlapTokens = Math.min(options.overlapTokens, Math.floor(maxTokens / 2));
  const units = splitUnits(text, maxTokens, countTokens);
  if (units.length === 0) return [];
  const paragraphTokens = new Map<number, number>();
  for (const unit of units) paragraphTokens.set(unit.paragraph, (paragraphTokens.get(unit.paragraph) ?? 0) + unit.tokens);

  const chunks: ChunkText[] = [];
  let next = 0;
  let overlap: Unit[] = [];
  while (next < units.length) {
    const parts = [...overlap];
    let tokens = sum(overlap);
    let taken = 0;
    while (next + taken < units.length) {
      const unit = units[next + taken] as Unit;
      if (taken > 0) {
        // A paragraph that would not fit here but fits a chunk of its own starts the next chunk.
        const whole = paragraphTokens.get(unit.paragraph) ?? 0;
        if (unit.separator === "\n\n" && tokens + whole > maxTokens && whole <= maxTokens) break;
        if (tokens + unit.tokens > maxTokens) break;
      } else {
        while (parts.length > 0 && tokens + unit.tokens > maxTokens) tokens -= (parts.shift() as Unit).tokens;
      }
      parts.push(unit);
      tokens += unit.tokens;
      taken += 1;
    }
    // The units were counted one by one; the joined text is counted again (a tokenizer may merge across a boundary).
    let joined = join(parts);
    let count = countTokens(joined);
    while (count > maxTokens && parts.length > 1) {
      if (parts.length > taken) parts.shift();
      else {
        parts.pop();
        taken -= 1;
      }
      joined = join(parts);
      count = countTokens(joined);
    }
    chunks.push({ text: joined, tokens: count });
    next += taken;
    overlap = overlapTokens > 0 ? tail(parts, overlapTokens) : [];
    if (overlap.length === parts.length) overlap = overlap.slice(1);
  }
  return chunks;
}

/** The text's sentences, trimmed, each with the whitespace before it; an overlong sentence cut into pieces by tokens. */
function splitUnits(text: string, maxTokens: number, countTokens: (text: string) => number): Unit[] {
  const units: Unit[] = [];
  let paragraph = 0;
  let previousEnd = -1;
  const add = (start: number, end: number) => {
    const piece = text.slice(start, end);
    const trimmed = piece.trim();
    if (trimmed === "") return;
    const from = start + piece.indexOf(trimmed);
    const gap = previousEnd < 0 ? "" : text.slice(previousEnd, from);
    const separator = previousEnd < 0 ? "" : /\n[^\S\n]*\n/.test(gap) ? "\n\n" : gap.includes("\n") ? "\n" : gap.length > 0 ? " " : "";
    if (separator === "\n\n") paragraph += 1;
    previousEnd = from + trimmed.length;
    const tokens = countTokens(trimmed);
    if (tokens <= maxTokens) units.push({ text: trimmed, tokens, separator, paragraph });
    else {
      hardSplit(trimmed, maxTokens, countTokens).forEach((part, index) =>
        units.push({ ...part, separator: index === 0 ? separator : joinsWithoutSpace(part.text) ? "" : " ", paragraph }),
      );
    }
  };
  let start = 0;
  for (const match of text.matchAll(sentenceEnd)) {
    const end = (match.index as number) + match[0].length;
    add(start, end);
    start = end;
  }
  add(start, text.length);
  return units;
}

/** An overlong sentence in pieces of at most `maxTokens`, each the longest prefix that fits (cut at a space when one is near). */
function hardSplit(sentence: string, maxTokens: number, countTokens: (text: string) => number): ChunkText[] {
  const pieces: ChunkText[] = [];
  let rest = Array.from(sentence);
  while (rest.length > 0) {
    let low = 1;
    let high = rest.length;
    while (low < high) {
      const middle = Math.ceil((low + high) / 2);
      if (countTokens(rest.slice(0, middle).join("")) <= maxTokens) low = middle;
      else high = middle - 1;
    }
    let cut = low;
    if (cut < rest.length) {
      const space = rest.slice(0, cut).lastIndexOf(" ");
      if (space > cut / 2) cut = space + 1;
    }
    const text = rest.slice(0, cut).join("").trim();
    if (text !== "") pieces.push({ text, tokens: countTokens(text) });
    rest = rest.slice(cut);
  }
  return pieces;
}

function joinsWithoutSpace(text: string): boolean {
  return cjk.test(text.charAt(0));
}

function join(units: readonly Unit[]): string {
  return units.map((unit, index) => (index === 0 ? unit.text : unit.separator + unit.text)).join("");
}

function sum(units: readonly Unit[]): number {
  return units.reduce((total, unit) => total + unit.tokens, 0);
}

/** The last units whose tokens add up to at most `limit`. */
function tail(units: readonly Unit[], limit: number): Unit[] {
  const kept: Unit[] = [];
  let tokens = 0;
  for (let index = units.length - 1; index >= 0; index -= 1) {
    const unit = units[index] as Unit;
    if (tokens + unit.tokens > limit) break;
    kept.unshift(unit);
    tokens += unit.tokens;
  }
  return kept;
}
