// The echo engine's embedding: a hashed bag of words, deterministic and cheap, for tests without a model; not semantic.
import { normalizeVector } from "../embedding-vector.js";

/** Length of the echo engine's vectors. */
export const echoEmbeddingDimensions = 64;

/**
 * Each word (lower-cased letters and digits) adds ±1 at a position chosen by its hash (FNV-1a), and the vector is
 * L2-normalized. Texts sharing words score higher than texts sharing none, but that is word overlap, not meaning.
 * A text without any word counts as the one word it is.
 */
export function echoEmbedding(text: string): number[] {
  const vector = new Array<number>(echoEmbeddingDimensions).fill(0);
  const words = text.toLowerCase().match(/[\p{L}\p{N}]+/gu) ?? [text];
  for (const word of words) {
    const hash = fnv1a(word);
    const index = hash % echoEmbeddingDimensions;
    vector[index] = (vector[index] as number) + (hash & 0x8000_0000 ? -1 : 1);
  }
  return normalizeVector(vector);
}

function fnv1a(text: string): number {
  let hash = 0x811c9dc5;
  for (const byte of Buffer.from(text, "utf8")) {
    hash ^= byte;
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash;
}
