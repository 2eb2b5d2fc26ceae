// The z-score and the scoring of token sequences against green lists.
import { describe, expect, it } from "vitest";
import { WatermarkGreenLists } from "./watermark-green-list.js";
import { scoreWatermark, watermarkZScore } from "./watermark-score.js";

const lists = new WatermarkGreenLists("score-test-key-0123456789", 0.25, 512);

/** A sequence of `length` tokens where each token is green (or red) after its predecessor. */
function chain(length: number, green: boolean, start = 5): number[] {
  const tokens = [start];
  for (let step = 1; step < length; step++) {
    const previous = tokens[tokens.length - 1] as number;
    let token = (previous * 31 + step * 17) % 512;
    while (lists.isGreen(previous, token) !== green) token = (token + 1) % 512;
    tokens.push(token);
  }
  return tokens;
}

describe("watermarkZScore", () => {
  it("is (green − γT) / √(T γ (1 − γ))", () => {
    expect(watermarkZScore(25, 100, 0.25)).toBe(0);
    expect(watermarkZScore(50, 100, 0.25)).toBeCloseTo(25 / Math.sqrt(18.75), 12);
    expect(watermarkZScore(0, 100, 0.25)).toBeCloseTo(-25 / Math.sqrt(18.75), 12);
    expect(watermarkZScore(0, 0, 0.25)).toBe(0);
  });
});

describe("scoreWatermark", () => {
  it("reads an all-green sequence as watermarked and an all-red one as not", () => {
    const green = scoreWatermark(chain(60, true), lists);
    expect(green.green).toBe(green.scored);
    expect(green.watermarked).toBe(true);
    const red = scoreWatermark(chain(60, false), lists);
    expect(red.green).toBe(0);
    expect(red.watermarked).toBe(false);
    expect(red.z).toBeLessThan(0);
  });

  it("skips the first token and counts a repeated (previous, token) pair once unless repeats are asked for", () => {
    const once = chain(11, true);
    const twice = [...once, ...once];
    expect(scoreWatermark(once, lists).scored).toBe(10);
    // The joint between the copies is one new pair.
    expect(scoreWatermark(twice, lists).scored).toBe(11);
    expect(scoreWatermark(twice, lists, { repeats: true }).scored).toBe(21);
  });

  it("keeps the z-score of random token sequences near N(0, 1)", () => {
    let state = 12345;
    // The high 9 bits of a 32-bit LCG (its low bits repeat with short periods).
    const next = () => (state = (Math.imul(state, 1103515245) + 12345) >>> 0) >>> 23;
    const scores: number[] = [];
    for (let text = 0; text < 300; text++) scores.push(scoreWatermark(Array.from({ length: 200 }, next), lists).z);
    const mean = scores.reduce((sum, z) => sum + z, 0) / scores.length;
    expect(Math.abs(mean)).toBeLessThan(0.3);
    expect(scores.filter((z) => z >= 4)).toEqual([]);
  });
});
