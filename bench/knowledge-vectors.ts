// Vectors for the knowledge benchmark: seeded random unit vectors, the stored ones read back, exact top-k by brute-force cosine.
import type { KnowledgeDatabase } from "../src/knowledge/knowledge-database.js";
import { embeddingTable, float32s } from "../src/knowledge/knowledge-vectors.js";
import { seededRandom } from "./knowledge-corpus.js";

/** A unit vector uniformly on the sphere (normal components by Box–Muller), the same for the same seed. */
export function randomUnitVector(dimensions: number, seed: number): Float32Array {
  const random = seededRandom(seed);
  const vector = new Float32Array(dimensions);
  for (let index = 0; index < dimensions; index += 2) {
    const radius = Math.sqrt(-2 * Math.log(1 - random()));
    const angle = 2 * Math.PI * random();
    vector[index] = radius * Math.cos(angle);
    if (index + 1 < dimensions) vector[index + 1] = radius * Math.sin(angle);
  }
  return normalize(vector);
}

/** A query vector near the stored vector of chunk `chunkId` (written with `randomUnitVector(…, seedBase + chunkId)`). */
export function vectorNear(dimensions: number, chunkId: number, seedBase: number, salt: number): Float32Array {
  const base = randomUnitVector(dimensions, seedBase + chunkId);
  const noise = randomUnitVector(dimensions, 0x2545f491 ^ (salt * 40_503));
  return normalize(base.map((value, index) => value + 0.6 * (noise[index] as number)));
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

/** The ids of the `limit` stored vectors of highest cosine similarity to `query`, best first. */
export function bruteForceTop(stored: StoredVectors, query: Float32Array, limit: number): number[] {
  const { dimensions, values, norms, ids } = stored;
  let queryNorm = 0;
  for (const value of query) queryNorm += value * value;
  queryNorm = Math.sqrt(queryNorm) || 1;
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
  return best.map((entry) => entry.id);
}

/** Mean and least recall@10 of `nearest` (chunk ids, best first) against brute-force cosine over `stored`, per query vector. */
export function recallAt10(
  stored: StoredVectors,
  queries: readonly Float32Array[],
  nearest: (vector: Float32Array) => number[],
): { queries: number; meanRecallAt10: number; minRecallAt10: number } {
  const recalls = queries.map((vector) => {
    const exact = new Set(bruteForceTop(stored, vector, 10));
    return nearest(vector).filter((chunkId) => exact.has(chunkId)).length / Math.max(1, exact.size);
  });
  return { queries: recalls.length, meanRecallAt10: recalls.reduce((sum, value) => sum + value, 0) / Math.max(1, recalls.length), minRecallAt10: Math.min(...recalls) };
}
