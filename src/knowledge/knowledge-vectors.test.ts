import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { KnowledgeDatabase } from "./knowledge-database.js";
import { KnowledgeSearch } from "./knowledge-search.js";
import type { CollectionScope } from "./knowledge-types.js";
import { bitTable, candidatesFor, embeddingTable, maximumCandidates, oversampleFor } from "./knowledge-vectors.js";
import { TextSegmenter } from "./text-segmenter.js";

// Isotropic random vectors in few dimensions are the hard case for sign bits (48 bits, no clusters): the 64× candidates
// (2000 × ~1/3 here) keep recall@10 at ~0.97; with 3000 vectors it measured 0.91–0.94, with 32× 0.80.
const dimensions = 48;
const stored = 2000;
const queries = 150;

/** mulberry32: a seeded generator of uniform numbers in [0, 1). */
function seeded(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let value = state;
    value = Math.imul(value ^ (value >>> 15), value | 1);
    value ^= value + Math.imul(value ^ (value >>> 7), value | 61);
    return ((value ^ (value >>> 14)) >>> 0) / 4294967296;
  };
}

/** A unit vector uniformly on the sphere (Box–Muller normals, normalized). */
function unitVector(random: () => number): Float32Array {
  const vector = new Float32Array(dimensions);
  for (let index = 0; index < dimensions; index += 1) {
    vector[index] = Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
  }
  return normalized(vector);
}

function normalized(vector: Float32Array): Float32Array {
  const norm = Math.sqrt(vector.reduce((sum, value) => sum + value * value, 0));
  return vector.map((value) => value / norm);
}

function cosine(left: Float32Array, right: Float32Array): number {
  let dot = 0;
  for (let index = 0; index < left.length; index += 1) dot += (left[index] as number) * (right[index] as number);
  return dot;
}

describe("nearest vectors: sign-bit candidates, exact rescoring", () => {
  let directory: string;
  let database: KnowledgeDatabase;
  let search: KnowledgeSearch;
  const vectors: { chunkId: number; collection: string; vector: Float32Array }[] = [];
  const random = seeded(20_260_512);

  beforeAll(() => {
    directory = fs.mkdtempSync(path.join(os.tmpdir(), "clawbot-kb-vectors-"));
    database = KnowledgeDatabase.open(path.join(directory, "knowledge.db"), { segmenter: TextSegmenter.create() });
    database.useEmbedding("random-48", dimensions);
    database.writeDocuments(
      Array.from({ length: stored }, (_, index) => ({
        collection: index % 3 === 0 ? "small" : "large",
        docId: `d${index}`,
        source: `s${index}`,
        file: "/data/vectors",
        hash: `h${index}`,
        metadata: {},
        chunks: [{ text: `chunk ${index}`, tokens: 2 }],
        vectors: [unitVector(random)],
      })),
    );
    const rows = database.sqlite
      .prepare<[], { chunkId: number; collection: string; embedding: Buffer }>(
        `SELECT e.chunk_id AS chunkId, d.collection, e.embedding FROM ${embeddingTable} e
         JOIN kb_chunks c ON c.id = e.chunk_id JOIN kb_documents d ON d.id = c.document_id`,
      )
      .all();
    for (const row of rows) vectors.push({ chunkId: row.chunkId, collection: row.collection, vector: new Float32Array(row.embedding.buffer.slice(row.embedding.byteOffset, row.embedding.byteOffset + row.embedding.byteLength)) });
    search = new KnowledgeSearch(database, { fusion: { bm25_weight: 1, vector_weight: 1, rrf_k: 60 } });
  });
  afterAll(() => {
    database.close();
    fs.rmSync(directory, { recursive: true, force: true });
  });

  /** Mean recall@10 of nearest() against brute-force cosine over the stored vectors in scope, for noisy copies of stored vectors. */
  function recallAt10(collections: CollectionScope): number {
    const inScope = vectors.filter((entry) => collections === "*" || collections.includes(entry.collection));
    let total = 0;
    for (let query = 0; query < queries; query += 1) {
      const base = inScope[Math.floor(random() * inScope.length)]!.vector;
      const noise = unitVector(random);
      const vector = normalized(base.map((value, index) => value + 0.8 * (noise[index] as number)));
      const exact = inScope
        .map((entry) => ({ chunkId: entry.chunkId, similarity: cosine(vector, entry.vector) }))
        .sort((left, right) => right.similarity - left.similarity)
        .slice(0, 10);
      const found = search.nearest(vector, collections, 10);
      expect(found).toHaveLength(10);
      expect(found.every((chunk) => collections === "*" || collections.includes(chunk.collection))).toBe(true);
      // Scores are the exact cosine, best first.
      const byId = new Map(inScope.map((entry) => [entry.chunkId, entry.vector]));
      for (const chunk of found) expect(chunk.score).toBeCloseTo(cosine(vector, byId.get(chunk.chunkId)!), 5);
      expect(found.map((chunk) => chunk.score)).toEqual([...found.map((chunk) => chunk.score)].sort((left, right) => right - left));
      const exactIds = new Set(exact.map((entry) => entry.chunkId));
      total += found.filter((chunk) => exactIds.has(chunk.chunkId)).length / 10;
    }
    return total / queries;
  }

  it("finds the exact top 10 (recall ≥ 0.95) over all collections", () => {
    expect(oversampleFor(dimensions)).toBe(64);
    expect(recallAt10("*")).toBeGreaterThanOrEqual(0.95);
  });

  it("finds the exact top 10 (recall ≥ 0.95) within one collection", () => {
    expect(recallAt10(["large"])).toBeGreaterThanOrEqual(0.95);
  });

  it("is exact when the scope holds no more vectors than the candidates", () => {
    const query = unitVector(random);
    const found = search.nearest(query, ["small"], 20); // 20 × 64 candidates ≥ the 667 vectors of "small"
    const exact = vectors
      .filter((entry) => entry.collection === "small")
      .map((entry) => ({ chunkId: entry.chunkId, similarity: cosine(query, entry.vector) }))
      .sort((left, right) => right.similarity - left.similarity || left.chunkId - right.chunkId)
      .slice(0, 20);
    expect(found.map((chunk) => chunk.chunkId)).toEqual(exact.map((entry) => entry.chunkId));
  });

  it("oversamples more for fewer dimensions, from 8× to 64×", () => {
    expect([16, 64, 384, 768, 4096].map(oversampleFor)).toEqual([64, 64, 11, 8, 8]);
  });

  it("holds the candidates to the KNN budget over the stored vectors, never under the results wanted", () => {
    expect(candidatesFor(10, 384, 100_000)).toBe(110);
    expect(candidatesFor(40, 384, 100_000)).toBe(120);
    expect(candidatesFor(10, dimensions, stored)).toBe(640);
    expect(candidatesFor(100, 16, 10)).toBe(maximumCandidates);
    expect(candidatesFor(10, 384, 50_000_000)).toBe(10);
  });

  it("keeps the float and bit rows of a chunk together: a deleted document leaves neither", () => {
    const count = (table: string) => (database.sqlite.prepare(`SELECT COUNT(*) AS count FROM ${table}`).get() as { count: number }).count;
    expect(count(embeddingTable)).toBe(stored);
    expect(count(bitTable)).toBe(stored);
    database.deleteDocument("d1");
    expect(count(embeddingTable)).toBe(stored - 1);
    expect(count(bitTable)).toBe(stored - 1);
    expect(database.stats().vectors).toBe(stored - 1);
  });
});
