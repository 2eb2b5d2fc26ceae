// Finds stop strings in streamed text, holding back only the tail that could still become one.
export class StopMatcher {
  private held = "";

  constructor(private readonly stops: readonly string[]) {}

  /** Adds text; returns what may be emitted now, and whether a stop string was reached (its text is dropped). */
  push(text: string): { text: string; stopped: boolean } {
    const candidate = this.held + text;
    let stopAt = -1;
    for (const stop of this.stops) {
      if (!stop) continue;
      const index = candidate.indexOf(stop);
      if (index >= 0 && (stopAt < 0 || index < stopAt)) stopAt = index;
    }
    if (stopAt >= 0) {
      this.held = "";
      return { text: candidate.slice(0, stopAt), stopped: true };
    }
    const keep = this.partialStopLength(candidate);
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
      for (let length = Math.min(stop.length - 1, text.length); length > longest; length -= 1) {
        if (text.endsWith(stop.slice(0, length))) {
          longest = length;
          break;
        }
      }
    }
    return longest;
  }
}
