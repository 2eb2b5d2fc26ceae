// Stop strings end an answer without leaking their text, wherever the chunk boundaries fall.
import { describe, expect, it } from "vitest";
import { StopMatcher } from "./stop-matcher.js";

function run(chunks: string[], stops: string[]): { text: string; stopped: boolean } {
  const matcher = new StopMatcher(stops);
  let text = "";
  for (const chunk of chunks) {
    const result = matcher.push(chunk);
    text += result.text;
    if (result.stopped) return { text, stopped: true };
  }
  return { text: text + matcher.flush(), stopped: false };
}

describe("StopMatcher", () => {
  it("stops before the first stop string at every split position, never emitting any of it", () => {
    const whole = "The cat sat. END of story END";
    for (let split = 0; split <= whole.length; split += 1) {
      const matcher = new StopMatcher(["END"]);
      const first = matcher.push(whole.slice(0, split));
      expect(first.text).not.toContain("END");
      const result = first.stopped ? first : matcher.push(whole.slice(split));
      expect(first.text + (first.stopped ? "" : result.text)).toBe("The cat sat. ");
      expect(result.stopped).toBe(true);
    }
  });

  it("holds back only a possible beginning of a stop string, and releases it when it is not one", () => {
    const matcher = new StopMatcher(["###"]);
    expect(matcher.push("hello #")).toEqual({ text: "hello ", stopped: false });
    expect(matcher.push("# no")).toEqual({ text: "## no", stopped: false });
    expect(run(["a", "b#", "#"], ["###"])).toEqual({ text: "ab##", stopped: false });
  });

  it("picks the earliest of several stop strings and passes text through without any", () => {
    expect(run(["one two three"], ["three", "two"])).toEqual({ text: "one ", stopped: true });
    expect(run(["plain ", "text"], [])).toEqual({ text: "plain text", stopped: false });
  });
});
