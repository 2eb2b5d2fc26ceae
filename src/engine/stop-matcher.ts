// Finds stop strings in streamed text, holding back only the tail that could still become one.
export class StopMatcher {
  private held = "";
  private readonly stops: readonly string[];
  /** The stop string that ended the text, once one did. */
  matched: string | undefined;

  constructor(stops: readonly string[]) {
    this.stops = stops.filter((stop) => stop.length > 0);
  }

  /** Adds text; returns what may be emitted now, and whether a stop string was reached (its text is dropped). */
  push(text: string): { text: string; stopped: boolean } {
    if (this.stops.length === 0) return { text, stopped: false };
    const candidate = this.held + text;
    let stopAt = -1;
    for (const stop of this.stops) {
      const index = candidate.indexOf(stop);
      if (index >= 0 && (stopAt < 0 || index < stopAt)) {
        stopAt = index;
        this.matched = stop;
      }
    }
    if (stopAt >= 0) {
      this.held = "";
      return { text: candidate.slice(0, stopAt), stopped: true };
    }
    const keep = this.partialStopLength(candidate);
    if (keep === 0) {
      this.held = "";
      return { text: candidate, stopped: false };
    }
    this.held = candidate.slice(candidate.length - keep);
    return { text: candidate.slice(0, candidate.length - keep), stopped: false };
  }

  /** The held-back text, when generation ends for another reason. */
  flush(): string {
    const rest = this.held;
    this.held = "";
    return rest;
  }

  /** Length of the longest end of `text` that is the start of some stop string. */
  private partialStopLength(text: string): number {
    let longest = 0;
    for (const stop of this.stops) {
      // Only a tail that begins with the stop's first character can be its start; look at those, longest first.
      const first = stop.charCodeAt(0);
      for (let start = Math.max(0, text.length - stop.length + 1); start < text.length - longest; start += 1) {
        if (text.charCodeAt(start) === first && stop.startsWith(text.slice(start))) {
          longest = text.length - start;
          break;
        }
      }
    }
    return longest;
  }
}
