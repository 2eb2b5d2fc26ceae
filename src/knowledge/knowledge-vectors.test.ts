import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { seededRandom } from "../../test/helpers/seeded-random.js";
import { KnowledgeDatabase } from "./knowledge-database.js";
import { KnowledgeSearch } from "./knowledge-search.js";
import type { CollectionScope } from "./knowledge-types.js";
import { changeTable, embeddingTable } from "./knowledge-vectors.js";
import { TextSegmenter } from "./text-segmenter.js";
import { cosine, unitVector } from "../../test/helpers/unit-vectors.js";

const dimensions = 48;
const stored = 600;

describe("nearest vectors without an index: the exact scan", () => {
  let directory: string;
  let database: KnowledgeDatabase;
  let search: KnowledgeSearch;
  const vectors: { chunkId: number; collection: string; vector: Float32Array }[] = [];
  const random = seededRandom(20_260_512);

  beforeAll(() => {
    directory = fs.mkdtempSync(path.join(os.tmpdir(), "clawbot-kb-vectors-"));
    database = KnowledgeDatabase.open(path.join(directory, "knowledge.db"), { segmenter: TextSegmenter.create() });
    database.useEmbedding("random-48", dimensions);
    const written = Array.from({ length: stored }, () => unitVector(random, dimensions));
    database.writeDocuments(
      written.map((vector, index) => ({
        collection: index % 3 === 0 ? "small" : "large",
        docId: `d${index}`,
        source: `s${index}`,
        file: "/data/vectors",
        hash: `h${index}`,
        metadata: {},
        chunks: [{ text: `chunk ${index}`, tokens: 2 }],
        vectors: [vector],
      })),
    );
    const rows = database.sqlite
      .prepare<[], { chunkId: number; collection: string }>("SELECT c.id AS chunkId, d.collection FROM kb_chunks c JOIN kb_documents d ON d.id = c.document_id ORDER BY c.id")
      .all();
    rows.forEach((row, index) => vectors.push({ ...row, vector: written[index] as Float32Array }));
    search = new KnowledgeSearch(database, { fusion: { bm25_weight: 1, vector_weight: 1, rrf_k: 60 } });
  });
  afterAll(() => {
    database.close();
    fs.rmSync(directory, { recursive: true, force: true });
  });

  function bruteForce(query: Float32Array, collections: CollectionScope, limit: number) {
    return vectors
      .filter((entry) => collections === "*" || collections.includes(entry.collection))
      .map((entry) => ({ chunkId: entry.chunkId, score: cosine(query, entry.vector) }))
      .sort((left, right) => right.score - left.score || left.chunkId - right.chunkId)
      .slice(0, limit);
  }

  it.each([["*"], [["small"]], [["large", "small"]]] as [CollectionScope][])("answers exactly like brute-force cosine in scope %j", (collections) => {
    for (let query = 0; query < 20; query += 1) {
      const vector = unitVector(random, dimensions);
      const found = search.nearest(vector, collections, 10);
      const exact = bruteForce(vector, collections, 10);
      expect(found.map((chunk) => chunk.chunkId)).toEqual(exact.map((entry) => entry.chunkId));
      found.forEach((chunk, index) => expect(chunk.score).toBeCloseTo(exact[index]!.score, 5));
      expect(found.every((chunk) => collections === "*" || collections.includes(chunk.collection))).toBe(true);
    }
  });

  it("finds nothing in an empty scope or a collection that does not exist", () => {
    expect(search.nearest(unitVector(random, dimensions), [], 10)).toEqual([]);
    expect(search.nearest(unitVector(random, dimensions), ["nowhere"], 10)).toEqual([]);
  });

  it("logs a deleted chunk's vector for the index, and leaves no vector behind", () => {
    const count = (table: string) => (database.sqlite.prepare(`SELECT COUNT(*) AS count FROM ${table}`).get() as { count: number }).count;
    expect(count(embeddingTable)).toBe(stored);
    expect(count(changeTable)).toBe(0);
    const before = database.vectors.state();
    expect(before).toEqual({ maxChunkId: vectors.at(-1)!.chunkId, changeSequence: 0 });
    database.deleteDocument("d1");
    expect(count(embeddingTable)).toBe(stored - 1);
    expect(database.vectors.state()).toEqual({ maxChunkId: before.maxChunkId, changeSequence: 1 });
    expect(database.stats().vectors).toBe(stored - 1);
    expect(search.nearest(vectors[1]!.vector, "*", 5).map((chunk) => chunk.chunkId)).not.toContain(vectors[1]!.chunkId);
  });
});
