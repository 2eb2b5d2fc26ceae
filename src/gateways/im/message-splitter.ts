// Long answers cut at a platform's byte limit without breaking a UTF-8 character, a grapheme or a Markdown code block.

/** A fenced code block's opening line, as written: reopened verbatim at the start of the next piece. */
interface Fence {
  /** The opening line without its line break (indent, marker, info string). */
  line: string;
  /** The marker (``` or ~~~, possibly longer): the closing line repeats it. */
  marker: string;
}

/** One piece, with what was added around the text's own slice (for the tests: the slices join back to the text). */
export interface SplitPart {
  /** The fence reopened before `body` ("" when the piece does not start inside a code block). */
  prefix: string;
  /** This piece's slice of the text. */
  body: string;
  /** The fence closed after `body` ("" when the piece does not end inside a code block). */
  suffix: string;
}

const encoder = new TextEncoder();
const byteLength = (text: string): number => encoder.encode(text).length;
const openerPattern = /^ {0,3}(`{3,}|~{3,})(.*)$/;
const closerPattern = /^ {0,3}(`{3,}|~{3,})[ \t\r]*$/;
/** A cut before this (mid-line) would turn ordinary text into a fence line at the start of the next piece. */
const fenceAhead = /^ {0,3}(`{3}|~{3})/;
const segmenter = new Intl.Segmenter("und", { granularity: "grapheme" });

/** Cut preference, best first: paragraph, line, sentence, word, any grapheme; `bad` only when nothing else fits. */
const Rank = { bad: -1, grapheme: 0, word: 1, sentence: 2, line: 3, paragraph: 4 } as const;
type Rank = (typeof Rank)[keyof typeof Rank];

/**
 * Splits `text` into pieces of at most `maxBytes` UTF-8 bytes each, preferring paragraph, then line, then sentence,
 * then word boundaries; a fenced code block cut in two is closed at the end of one piece and reopened (same fence and
 * info string) at the start of the next; never splits a surrogate pair or a grapheme (a combining sequence, an emoji
 * with modifiers) unless that grapheme alone is larger than a quarter of the limit. Empty text gives no pieces.
 * A fence whose opening and closing lines together take more than half the limit is cut without being reopened.
 */
export function splitMessage(text: string, maxBytes: number): string[] {
  return splitMessageParts(text, maxBytes).map((part) => part.prefix + part.body + part.suffix);
}

/** splitMessage with each piece's added fence lines apart from its slice of the text. */
export function splitMessageParts(text: string, maxBytes: number): SplitPart[] {
  if (!Number.isInteger(maxBytes) || maxBytes < 16) throw new RangeError(`maxBytes must be an integer ≥ 16, not ${maxBytes}`);
  if (text === "") return [];
  if (byteLength(text) <= maxBytes) return [{ prefix: "", body: text, suffix: "" }];
  const layout = new TextLayout(text, maxBytes);
  const parts: SplitPart[] = [];
  let start = 0; // index into layout.boundaries
  const last = layout.boundaries.length - 1;
  while (start < last) {
    const end = layout.chooseEnd(start);
    const from = layout.boundaries[start]!;
    const to = layout.boundaries[end]!;
    const prefix = layout.reopenAt(from);
    const suffix = end === last ? "" : layout.closeAt(to, text);
    parts.push({ prefix, body: text.slice(from, to), suffix });
    start = end;
  }
  return parts;
}

/** The text's cut positions (grapheme boundaries), their byte offsets, and the fence state of each line. */
class TextLayout {
  /** Positions (UTF-16 indexes) where a cut is allowed, ascending, from 0 to text.length. */
  readonly boundaries: number[] = [0];
  /** UTF-8 byte offset of each boundary. */
  private readonly bytesAt: number[] = [0];
  /** Index of each line's first character, ascending. */
  private readonly lineStarts: number[] = [];
  /** The fence open at each line's start (null: none), and whether the line itself opens or closes one. */
  private readonly fenceBefore: (Fence | null)[] = [];
  private readonly fenceLine: boolean[] = [];

  constructor(
    private readonly text: string,
    private readonly maxBytes: number,
  ) {
    let bytes = 0;
    for (const { segment, index } of segmenter.segment(text)) {
      const size = byteLength(segment);
      if (size > maxBytes / 4) {
        // A huge grapheme (stacked combining marks): cut between its code points rather than exceed the limit.
        let offset = index;
        for (const codePoint of segment) {
          offset += codePoint.length;
          bytes += byteLength(codePoint);
          this.boundaries.push(offset);
          this.bytesAt.push(bytes);
        }
      } else {
        bytes += size;
        this.boundaries.push(index + segment.length);
        this.bytesAt.push(bytes);
      }
    }
    this.scanFences();
  }

  private scanFences(): void {
    let open: Fence | null = null;
    let lineStart = 0;
    while (lineStart <= this.text.length) {
      const newline = this.text.indexOf("\n", lineStart);
      const lineEnd = newline === -1 ? this.text.length : newline;
      const line = this.text.slice(lineStart, lineEnd);
      this.lineStarts.push(lineStart);
      this.fenceBefore.push(open);
      const wasOpen: Fence | null = open;
      if (wasOpen === null) {
        const match = openerPattern.exec(line);
        // A backtick fence's info string may not contain a backtick (CommonMark): "```a`b" is inline code, not a fence.
        if (match && !(match[1]!.startsWith("`") && match[2]!.includes("`"))) open = { line: line.replace(/\r$/, ""), marker: match[1]! };
      } else {
        const match = closerPattern.exec(line);
        if (match && match[1]![0] === wasOpen.marker[0] && match[1]!.length >= wasOpen.marker.length) open = null;
      }
      this.fenceLine.push(open !== wasOpen);
      if (newline === -1) break;
      lineStart = newline + 1;
    }
  }

  private lineOf(position: number): number {
    let low = 0;
    let high = this.lineStarts.length - 1;
    while (low < high) {
      const middle = (low + high + 1) >> 1;
      if (this.lineStarts[middle]! <= position) low = middle;
      else high = middle - 1;
    }
    return low;
  }

  /** The fence a cut at `position` leaves open (only one short enough to reopen within the limit). */
  private fenceAt(position: number): Fence | null {
    const line = this.lineOf(position);
    const fence = this.fenceBefore[line] ?? null;
    if (fence === null) return null;
    const overhead = byteLength(fence.line) + 1 + byteLength(fence.marker) + 1;
    return overhead <= this.maxBytes / 2 ? fence : null;
  }

  reopenAt(position: number): string {
    const fence = position === 0 ? null : this.fenceAt(position);
    return fence ? `${fence.line}\n` : "";
  }

  closeAt(position: number, text: string): string {
    const fence = this.fenceAt(position);
    if (!fence) return "";
    return text[position - 1] === "\n" ? fence.marker : `\n${fence.marker}`;
  }

  private rank(position: number): Rank {
    const text = this.text;
    const before = text[position - 1]!;
    if (before === "\n") return /\n[ \t\r]*\n$/.test(text.slice(Math.max(0, position - 8), position)) ? Rank.paragraph : Rank.line;
    // Mid-line: never inside a fence's own line, never where the rest would start a fence line in the next piece.
    if (this.fenceLine[this.lineOf(position)] || fenceAhead.test(text.slice(position, position + 6))) return Rank.bad;
    if (/[。！？；]/.test(before) || /[.!?;:][ \t]$/.test(text.slice(position - 2, position))) return Rank.sentence;
    if (before === " " || before === "\t" || /[\u3000-\u9fff\uac00-\ud7af\uff00-\uffef]/.test(before)) return Rank.word;
    return Rank.grapheme;
  }

  /** The boundary index where the piece starting at boundary `start` ends: the best-ranked late cut that fits. */
  chooseEnd(start: number): number {
    const from = this.boundaries[start]!;
    const prefixBytes = byteLength(this.reopenAt(from));
    const last = this.boundaries.length - 1;
    const fits = (end: number): boolean =>
      prefixBytes + this.bytesAt[end]! - this.bytesAt[start]! + (end === last ? 0 : byteLength(this.closeAt(this.boundaries[end]!, this.text))) <= this.maxBytes;
    if (fits(last)) return last;
    const best: number[] = [];
    let reach = start;
    for (let end = start + 1; end <= last && prefixBytes + this.bytesAt[end]! - this.bytesAt[start]! <= this.maxBytes; end++) {
      if (!fits(end)) continue;
      reach = end;
      const rank = this.rank(this.boundaries[end]!);
      best[rank + 1] = end; // latest fitting cut of each rank (index shifted so `bad` is 0)
    }
    if (reach === start) return start + 1; // unreachable with maxBytes ≥ 16 (a code point is ≤ 4 bytes): progress anyway
    // A better-ranked cut wins when it keeps at least 30% of what would fit; else the latest cut of a lower rank.
    const enough = (this.bytesAt[reach]! - this.bytesAt[start]!) * 0.3;
    for (let rank: number = Rank.paragraph; rank >= Rank.grapheme; rank--) {
      const end = best[rank + 1];
      if (end !== undefined && this.bytesAt[end]! - this.bytesAt[start]! >= enough) return end;
    }
    for (let rank: number = Rank.paragraph; rank >= Rank.bad; rank--) {
      const end = best[rank + 1];
      if (end !== undefined) return end;
    }
    return reach;
  }
}
