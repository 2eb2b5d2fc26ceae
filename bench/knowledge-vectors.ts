// Vectors for the knowledge benchmark: embedding-like term-hash vectors of chunk and query texts, the stored ones read back, exact top-k by brute-force cosine.
import type { KnowledgeDatabase } from "../src/knowledge/knowledge-database.js";
import { embeddingTable, float32s } from "../src/knowledge/knowledge-vectors.js";
import type { TextSegmenter } from "../src/knowledge/text-segmenter.js";
import { seededRandom } from "./knowledge-corpus.js";

/** The "model" the term-hash vectors are declared as (`useEmbedding`); the hybrid search's embedder carries the same id. */
export const termHashModel = "bench:term-hash-384";

/**
 * Embedding-like vectors without a model: a text's vector is the L2-normalized sum over its terms (jieba, as the index
 * segments) of a seeded Gaussian vector per term (seed: FNV-1a of the term), weighted 1 + ln(tf). Texts sharing terms
 * lie near and the common terms give every vector a shared component, as real embeddings have; uniform random vectors
 * have no structure (their ranks 2–10 are near-ties that no approximate index can order). No idf weighting: it lets one
 * rare term (a marker code) turn a query into a near-random direction, the same pathology (recall@10 of the marker
 * queries 0.71 with idf, 0.89 without, at 10k records).
 */
export class TermHashVectors {
  private readonly termVectors = new Map<string, Float32Array>();

  constructor(
    private readonly segmenter: TextSegmenter,
    readonly dimensions: number,
    private readonly seed: number,
  ) {}

  /** Distinct terms seen (the vocabulary whose vectors are cached). */
  get vocabulary(): number {
    return this.termVectors.size;
  }

  /** The unit vector of a text (a chunk's or a query's). */
  vector(text: string): Float32Array {
    const frequencies = new Map<string, number>();
    for (const term of this.segmenter.terms(text)) frequencies.set(term, (frequencies.get(term) ?? 0) + 1);
    const sum = new Float32Array(this.dimensions);
    for (const [term, frequency] of frequencies) {
      const weight = 1 + Math.log(frequency);
      const termVector = this.termVector(term);
      for (let index = 0; index < this.dimensions; index += 1) sum[index] = (sum[index] as number) + weight * (termVector[index] as number);
    }
    // A text without terms gets one fixed direction (a zero vector has no cosine).
    if (frequencies.size === 0) sum.fill(1);
    return normalize(sum);
  }

  private termVector(term: string): Float32Array {
    let vector = this.termVectors.get(term);
    if (!vector) {
      vector = gaussianVector(this.dimensions, fnv1a(term) ^ this.seed);
      this.termVectors.set(term, vector);
    }
    return vector;
  }
}

/** Writes a term-hash vector for every chunk of the knowledge base (after `useEmbedding(termHashModel, …)`), reading the chunks in batches; returns the count. */
export function writeTermHashVectors(database: KnowledgeDatabase, vectors: TermHashVectors, batch = 2000): number {
  const select = database.sqlite.prepare<[number, number], { id: number; text: string }>("SELECT id, text FROM kb_chunks WHERE id > ? ORDER BY id LIMIT ?");
  let written = 0;
  for (let rows = select.all(0, batch); rows.length > 0; rows = select.all((rows[rows.length - 1] as { id: number }).id, batch)) {
    database.writeVectors(rows.map((row) => ({ chunkId: row.id, vector: vectors.vector(row.text) })));
    written += rows.length;
  }
  return written;
}

/** 32-bit FNV-1a of a string's UTF-16 code units. */
export function fnv1a(text: string): number {
  let hash = 0x811c9dc5;
  for (let index = 0; index < text.length; index += 1) hash = Math.imul(hash ^ text.charCodeAt(index), 0x01000193);
  return hash >>> 0;
}

/** Standard normal components (Box–Muller), the same for the same seed. */
function gaussianVector(dimensions: number, seed: number): Float32Array {
  const random = seededRandom(seed);
  const vector = new Float32Array(dimensions);
  for (let index = 0; index < dimensions; index += 2) {
    const radius = Math.sqrt(-2 * Math.log(1 - random()));
    const angle = 2 * Math.PI * random();
    vector[index] = radius * Math.cos(angle);
    if (index + 1 < dimensions) vector[index + 1] = radius * Math.sin(angle);
  }
  return vector;
}

function normalize(vector: Float32Array): Float32Array {
  let norm = 0;
  for (const value of vector) norm += value * value;
  norm = Math.sqrt(norm) || 1;
  for (let index = 0; index < vector.length; index += 1) vector[index] = (vector[index] as number) / norm;
  return vector;
}

export interface StoredVectors {
  dimensions: number;
  ids: number[];
  /** All vectors back to back, `dimensions` floats each, in the order of `ids`. */
  values: Float32Array;
  norms: Float32Array;
}

/** Every vector in the knowledge base's embedding table, as stored (read back, not as written). */
export function readStoredVectors(database: KnowledgeDatabase, dimensions: number): StoredVectors {
  const rows = database.sqlite.prepare<[], { id: number | bigint; embedding: Buffer }>(`SELECT chunk_id AS id, embedding FROM ${embeddingTable}`).all();
  const values = new Float32Array(rows.length * dimensions);
  const norms = new Float32Array(rows.length);
  const ids: number[] = [];
  for (const [row, { id, embedding }] of rows.entries()) {
    const vector = float32s(embedding);
    if (vector.length !== dimensions) throw new Error(`stored vector ${id} has ${vector.length} dimensions, not ${dimensions}`);
    values.set(vector, row * dimensions);
    let norm = 0;
    for (const value of vector) norm += value * value;
    norms[row] = Math.sqrt(norm);
    ids.push(Number(id));
  }
  return { dimensions, ids, values, norms };
}

/** The `limit` stored vectors of highest cosine similarity to `query` (ids and similarities), best first. */
export function bruteForceTop(stored: StoredVectors, query: Float32Array, limit: number): { id: number; similarity: number }[] {
  const { dimensions, values, norms, ids } = stored;
  const queryNorm = Math.sqrt(query.reduce((sum, value) => sum + value * value, 0)) || 1;
  const best: { id: number; similarity: number }[] = [];
  for (let row = 0; row < ids.length; row += 1) {
    let dot = 0;
    const offset = row * dimensions;
    for (let index = 0; index < dimensions; index += 1) dot += (values[offset + index] as number) * (query[index] as number);
    const similarity = dot / ((norms[row] as number) * queryNorm || 1);
    if (best.length < limit || similarity > (best[best.length - 1] as { similarity: number }).similarity) {
      let position = best.length;
      while (position > 0 && (best[position - 1] as { similarity: number }).similarity < similarity) position -= 1;
      best.splice(position, 0, { id: ids[row] as number, similarity });
      if (best.length > limit) best.pop();
    }
  }
  return best;
}

export interface RecallMeasure {
  queries: number;
  meanRecallAt10: number;
  minRecallAt10: number;
  /** ann-benchmarks' "epsilon" recall (ε = 0.01): a result counts when its cosine distance ≤ 1.01 × the exact 10th's (near-ties count). */
  meanEpsilonRecallAt10: number;
}

/** Recall@10 of `nearest` (chunk ids, best first) against brute-force cosine over `stored`, per query vector: mean, least, and within ε. */
export function recallAt10(stored: StoredVectors, queries: readonly Float32Array[], nearest: (vector: Float32Array) => number[]): RecallMeasure {
  const rows = new Map(stored.ids.map((id, row) => [id, row]));
  const recalls: number[] = [];
  const epsilonRecalls: number[] = [];
  for (const vector of queries) {
    const exact = bruteForceTop(stored, vector, 10);
    const exactIds = new Set(exact.map((entry) => entry.id));
    const found = nearest(vector);
    const denominator = Math.max(1, exact.length);
    recalls.push(found.filter((chunkId) => exactIds.has(chunkId)).length / denominator);
    const limit = 1.01 * (1 - (exact[exact.length - 1]?.similarity ?? -1)) + 1e-6;
    epsilonRecalls.push(Math.min(1, found.filter((chunkId) => 1 - cosine(stored, rows.get(chunkId), vector) <= limit).length / denominator));
  }
  const mean = (values: number[]) => values.reduce((sum, value) => sum + value, 0) / Math.max(1, values.length);
  return { queries: recalls.length, meanRecallAt10: mean(recalls), minRecallAt10: Math.min(...recalls), meanEpsilonRecallAt10: mean(epsilonRecalls) };
}

/** Cosine similarity of the stored vector in `row` to `query` (−1 for no row). */
function cosine(stored: StoredVectors, row: number | undefined, query: Float32Array): number {
  if (row === undefined) return -1;
  const { dimensions, values, norms } = stored;
  let dot = 0;
  let queryNorm = 0;
  for (let index = 0; index < dimensions; index += 1) {
    dot += (values[row * dimensions + index] as number) * (query[index] as number);
    queryNorm += (query[index] as number) ** 2;
  }
  return dot / ((norms[row] as number) * Math.sqrt(queryNorm) || 1);
}
