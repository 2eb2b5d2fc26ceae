// Masks what the detectors find, in a whole text or in a stream, with the same result however the stream is split.
import type { Detector } from "./detectors.js";

/** A synchronous stream transform (usable wherever a StreamTransform is expected). */
export interface RedactingStream {
  push(text: string): string;
  flush(): string;
}

/** How many matches of each kind were masked. */
export type RedactionCounts = Record<string, number>;

/** Characters kept before the undelivered text of a stream so that look-behinds still see what preceded it. */
const lookBehindContext = 32;

interface Candidate {
  start: number;
  end: number;
  maskStart: number;
  kind: string;
  priority: number;
}

export class Redactor {
  constructor(
    private readonly detectors: readonly Detector[],
    private readonly replacement: string,
  ) {}

  /** The text with every match masked; counts are added to `counts`. */
  redact(text: string, counts: RedactionCounts = {}): string {
    return this.scan(text, 0, true, counts).output;
  }

  /**
   * A stream transform giving exactly what `redact` gives for the whole text. It holds back only the end of
   * the text that could still be part of a match, as each detector's `pending` says.
   */
  createStream(counts: RedactionCounts = {}): RedactingStream {
    let buffer = "";
    let from = 0;
    return {
      push: (text) => {
        buffer += text;
        const { output, end } = this.scan(buffer, from, false, counts);
        const keepFrom = Math.max(0, end - lookBehindContext);
        buffer = buffer.slice(keepFrom);
        from = end - keepFrom;
        return output;
      },
      flush: () => {
        const { output } = this.scan(buffer, from, true, counts);
        buffer = "";
        from = 0;
        return output;
      },
    };
  }

  /**
   * Masks text[from, end) and returns it with `end`: the whole text when final, else the point before which no
   * match can change any more. Overlapping matches are masked together and counted once, as the kind of the
   * leftmost (then longest, then first-configured) one.
   */
  private scan(text: string, from: number, final: boolean, counts: RedactionCounts): { output: string; end: number } {
    const candidates = this.findCandidates(text, from);
    const end = final ? text.length : this.safeEnd(text, from, candidates);
    candidates.sort((first, second) => first.start - second.start || second.end - first.end || first.priority - second.priority);
    let output = "";
    let position = from;
    let group: Candidate | undefined;
    const closeGroup = () => {
      if (!group) return;
      output += text.slice(position, group.maskStart) + this.replacement;
      position = group.end;
      counts[group.kind] = (counts[group.kind] ?? 0) + 1;
      group = undefined;
    };
    for (const candidate of candidates) {
      if (candidate.start >= end) break;
      if (group && candidate.start < group.end) {
        group.end = Math.max(group.end, candidate.end);
        group.maskStart = Math.min(group.maskStart, candidate.maskStart);
        continue;
      }
      closeGroup();
      group = { ...candidate };
    }
    closeGroup();
    return { output: output + text.slice(position, end), end };
  }

  private findCandidates(text: string, from: number): Candidate[] {
    const candidates: Candidate[] = [];
    for (const [priority, detector] of this.detectors.entries()) {
      const { pattern } = detector;
      pattern.lastIndex = from;
      for (let match = pattern.exec(text); match !== null; match = pattern.exec(text)) {
        if (match[0].length === 0) {
          pattern.lastIndex = match.index + 1;
          continue;
        }
        if (detector.accept && !detector.accept(match[0])) {
          pattern.lastIndex = match.index + 1;
          continue;
        }
        const start = match.index;
        candidates.push({ start, end: start + match[0].length, maskStart: start + (detector.maskFrom?.(match) ?? 0), kind: detector.kind, priority });
      }
    }
    return candidates;
  }

  /** The end of what a stream may deliver now: before any detector's pending text and never inside a match. */
  private safeEnd(text: string, from: number, candidates: readonly Candidate[]): number {
    let end = text.length;
    for (const detector of this.detectors) end = Math.min(end, text.length - detector.pending(text, from));
    let moved = true;
    while (moved) {
      moved = false;
      for (const candidate of candidates) {
        if (candidate.start < end && candidate.end > end) {
          end = candidate.start;
          moved = true;
        }
      }
      // Never split a surrogate pair across two deltas.
      if (end > from && isHighSurrogate(text.charCodeAt(end - 1))) {
        end -= 1;
        moved = true;
      }
    }
    return Math.max(end, from);
  }
}

function isHighSurrogate(code: number): boolean {
  return code >= 0xd800 && code <= 0xdbff;
}
