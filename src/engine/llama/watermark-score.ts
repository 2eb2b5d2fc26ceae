// Watermark detection: count green tokens in a token sequence and turn the count into a one-sided z-score.
import type { WatermarkGreenLists } from "./watermark-green-list.js";

/** z at or above this reads as `watermarked` (one-sided p ≈ 3 × 10⁻⁵ for independent tokens). */
export const watermarkZThreshold = 4;

export interface WatermarkScore {
  /** Tokens scored: each token with a predecessor in the text; with `repeats: false`, each distinct (previous, token) pair once. */
  scored: number;
  /** Of those, how many are in their predecessor's green list. */
  green: number;
  /** (green − γT) / √(T γ (1 − γ)); 0 when nothing was scored. */
  z: number;
  watermarked: boolean;
}

/** z = (green − γT) / √(T γ (1 − γ)), Kirchenbauer et al. 2023, eq. 2. */
export function watermarkZScore(green: number, scored: number, gamma: number): number {
  if (scored <= 0) return 0;
  return (green - gamma * scored) / Math.sqrt(scored * gamma * (1 - gamma));
}

/**
 * Scores a text's tokens (as the model's tokenizer splits it). The first token is skipped: its predecessor (the end of
 * the prompt) is not in the text. By default a (previous, token) pair that occurs again is counted once, so a text
 * that repeats itself (small models do) cannot pile up green tokens it drew once: the z-score of unwatermarked text
 * stays near the normal distribution it assumes (Kirchenbauer et al., "On the Reliability of Watermarks", 2023).
 */
export function scoreWatermark(
  tokens: readonly number[],
  lists: WatermarkGreenLists,
  options: { repeats?: boolean; threshold?: number } = {},
): WatermarkScore {
  const seen = new Set<number>();
  let scored = 0;
  let green = 0;
  for (let index = 1; index < tokens.length; index++) {
    const previous = tokens[index - 1] as number;
    const token = tokens[index] as number;
    if (!options.repeats) {
      const pair = previous * lists.vocabularySize + token;
      if (seen.has(pair)) continue;
      seen.add(pair);
    }
    scored += 1;
    if (lists.isGreen(previous, token)) green += 1;
  }
  const z = watermarkZScore(green, scored, lists.gamma);
  return { scored, green, z, watermarked: z >= (options.threshold ?? watermarkZThreshold) };
}
