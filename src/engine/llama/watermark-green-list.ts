// Kirchenbauer et al. (2023) green lists, LeftHash h=1: the previous token and a secret key pick a gamma share of the vocabulary.
import { createHmac } from "node:crypto";

/**
 * The green list after token `p` is the first round(gamma × V) entries of a permutation of 0..V−1 made by a partial
 * Fisher–Yates shuffle, drawn from xoshiro128** seeded with the first 16 bytes of HMAC-SM3(key, p as 4 bytes, big
 * endian). Generation (bias) and detection (count) share this one definition; changing it invalidates every watermark
 * already issued. Lists are computed on first use and the most recently used ones are kept, up to a budget in tokens.
 */
export class WatermarkGreenLists {
  /** Tokens in each green list: round(gamma × vocabulary size), at least 1. */
  readonly greenCount: number;
  private readonly key: Buffer;
  private readonly cache = new Map<number, GreenList>();
  private readonly maxCached: number;
  /** Scratch permutation, reset to the identity before each shuffle. */
  private readonly scratch: Uint32Array;

  constructor(
    key: string,
    readonly gamma: number,
    readonly vocabularySize: number,
    /** Green-list tokens kept in memory over all cached lists (about 4 bytes each; bias objects cost more, see WatermarkBias). */
    cacheBudgetTokens = 4_000_000,
  ) {
    if (!(gamma > 0 && gamma < 1)) throw new RangeError(`gamma must be between 0 and 1, got ${gamma}`);
    if (!Number.isInteger(vocabularySize) || vocabularySize < 2) throw new RangeError(`vocabulary size must be an integer ≥ 2, got ${vocabularySize}`);
    if (key.length === 0) throw new RangeError("the watermark key is empty");
    this.key = Buffer.from(key, "utf8");
    this.greenCount = Math.max(1, Math.min(vocabularySize - 1, Math.round(gamma * vocabularySize)));
    this.maxCached = Math.max(8, Math.floor(cacheBudgetTokens / this.greenCount));
    this.scratch = new Uint32Array(vocabularySize);
  }

  /** The green tokens after `previous`, in the order the shuffle drew them. */
  tokens(previous: number): Uint32Array {
    return this.entry(previous).tokens;
  }

  isGreen(previous: number, token: number): boolean {
    if (token < 0 || token >= this.vocabularySize) return false;
    const entry = this.entry(previous);
    entry.membership ??= membershipOf(entry.tokens, this.vocabularySize);
    return entry.membership[token] === 1;
  }

  private entry(previous: number): GreenList {
    const cached = this.cache.get(previous);
    if (cached) {
      // Most recently used last: Map keeps insertion order.
      this.cache.delete(previous);
      this.cache.set(previous, cached);
      return cached;
    }
    const entry: GreenList = { tokens: this.draw(previous) };
    this.cache.set(previous, entry);
    if (this.cache.size > this.maxCached) this.cache.delete(this.cache.keys().next().value as number);
    return entry;
  }

  private draw(previous: number): Uint32Array {
    const seed = createHmac("sm3", this.key).update(uint32BigEndian(previous)).digest();
    const random = xoshiro128StarStar(seed.readUInt32BE(0), seed.readUInt32BE(4), seed.readUInt32BE(8), seed.readUInt32BE(12));
    const permutation = this.scratch;
    for (let index = 0; index < permutation.length; index++) permutation[index] = index;
    const size = permutation.length;
    for (let index = 0; index < this.greenCount; index++) {
      // random() < 2^32 and size < 2^21 keep the product exact in a double.
      const pick = index + Math.floor((random() * (size - index)) / 4294967296);
      const held = permutation[index] as number;
      permutation[index] = permutation[pick] as number;
      permutation[pick] = held;
    }
    return permutation.slice(0, this.greenCount);
  }
}

interface GreenList {
  tokens: Uint32Array;
  /** 1 for green tokens, made on the first membership test (detection). */
  membership?: Uint8Array;
}

function membershipOf(tokens: Uint32Array, vocabularySize: number): Uint8Array {
  const membership = new Uint8Array(vocabularySize);
  for (const token of tokens) membership[token] = 1;
  return membership;
}

function uint32BigEndian(value: number): Buffer {
  const bytes = Buffer.alloc(4);
  bytes.writeUInt32BE(value >>> 0);
  return bytes;
}

/** xoshiro128** (Blackman and Vigna): returns unsigned 32-bit integers. */
function xoshiro128StarStar(a: number, b: number, c: number, d: number): () => number {
  let s0 = a >>> 0;
  let s1 = b >>> 0;
  let s2 = c >>> 0;
  let s3 = d >>> 0;
  if ((s0 | s1 | s2 | s3) === 0) s0 = 1;
  return () => {
    const result = Math.imul(rotateLeft(Math.imul(s1, 5), 7), 9) >>> 0;
    const t = s1 << 9;
    s2 ^= s0;
    s3 ^= s1;
    s1 ^= s2;
    s0 ^= s3;
    s2 ^= t;
    s3 = rotateLeft(s3, 11);
    return result;
  };
}

function rotateLeft(value: number, bits: number): number {
  return (value << bits) | (value >>> (32 - bits));
}
