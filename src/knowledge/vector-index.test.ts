import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { seededRandom } from "../../test/helpers/seeded-random.js";
import type { Logger } from "../logging/logger.js";
import { KnowledgeDatabase } from "./knowledge-database.js";
import { KnowledgeSearch } from "./knowledge-search.js";
import type { CollectionScope, DocumentWrite } from "./knowledge-types.js";
import { TextSegmenter } from "./text-segmenter.js";
import { readVectorIndexSidecar, syncVectorIndex, VectorIndex, vectorIndexFile, vectorIndexSidecarFile } from "./vector-index.js";
import { cosine, unitVector } from "../../test/helpers/unit-vectors.js";

const dimensions = 64;
const stored = 3000;
const fusion = { bm25_weight: 1, vector_weight: 1, rrf_k: 60 };

function documentOf(docId: string, collection: string, vector: Float32Array): DocumentWrite {
  return { collection, docId, source: docId, file: "/data/vectors", hash: docId, metadata: {}, chunks: [{ text: `chunk ${docId}`, tokens: 2 }], vectors: [vector] };
}

function warnings(): { logger: Logger; warn: ReturnType<typeof vi.fn> } {
  const warn = vi.fn();
  return { logger: { warn, info: vi.fn() } as unknown as Logger, warn };
}

describe("the HNSW vector index", () => {
  let directory: string;
  let file: string;
  let database: KnowledgeDatabase;
  /** The stored vectors by chunk id, with their collection (kept in step with the database). */
  const vectors = new Map<number, { collection: string; vector: Float32Array }>();
  const random = seededRandom(20_261_202);

  function chunkIdOf(docId: string): number {
    return (database.sqlite.prepare("SELECT c.id FROM kb_chunks c JOIN kb_documents d ON d.id = c.document_id WHERE d.doc_id = ?").get(docId) as { id: number }).id;
  }

  function write(docId: string, collection: string, vector: Float32Array): number {
    database.writeDocuments([documentOf(docId, collection, vector)]);
    const chunkId = chunkIdOf(docId);
    vectors.set(chunkId, { collection, vector });
    return chunkId;
  }

  function bruteForce(query: Float32Array, collections: CollectionScope, limit: number): number[] {
    return [...vectors]
      .filter(([, entry]) => collections === "*" || collections.includes(entry.collection))
      .map(([chunkId, entry]) => ({ chunkId, score: cosine(query, entry.vector) }))
      .sort((left, right) => right.score - left.score)
      .slice(0, limit)
      .map((entry) => entry.chunkId);
  }

  beforeAll(() => {
    directory = fs.mkdtempSync(path.join(os.tmpdir(), "clawbot-kb-hnsw-"));
    file = path.join(directory, "knowledge.db");
    database = KnowledgeDatabase.open(file, { segmenter: TextSegmenter.create() });
    database.useEmbedding("random-64", dimensions);
    const documents = Array.from({ length: stored }, (_, index) => documentOf(`d${index}`, index % 3 === 0 ? "small" : "large", unitVector(random, dimensions)));
    database.writeDocuments(documents);
    for (const document of documents) vectors.set(chunkIdOf(document.docId), { collection: document.collection, vector: document.vectors![0] as Float32Array });
  });
  afterAll(() => {
    database.close();
    fs.rmSync(directory, { recursive: true, force: true });
  });

  it("builds the index file and its sidecar, private (0600), matching the database", () => {
    const sync = syncVectorIndex(database, { threads: 2 });
    expect(sync).toMatchObject({ action: "built", vectors: stored });
    for (const written of [vectorIndexFile(file), vectorIndexSidecarFile(file)]) expect(fs.statSync(written).mode & 0o777).toBe(0o600);
    expect(readVectorIndexSidecar(file)).toEqual({ model: "random-64", dimensions, count: stored, ...database.vectors.state() });
    expect(syncVectorIndex(database)).toMatchObject({ action: "current", vectors: stored });
  });

  it.each([["*"], [["large"]]] as [CollectionScope][])("answers like brute force (recall@10 ≥ 0.95) in scope %j", (collections) => {
    const index = new VectorIndex(database);
    expect(index.current()).toBe(true);
    let recall = 0;
    const queries = 100;
    for (let query = 0; query < queries; query += 1) {
      const vector = unitVector(random, dimensions);
      const found = index.nearest(vector, collections, 10);
      expect(found).toHaveLength(10);
      for (const chunk of found!) {
        expect(collections === "*" || collections.includes(vectors.get(chunk.chunkId)!.collection)).toBe(true);
        expect(chunk.score).toBeCloseTo(cosine(vector, vectors.get(chunk.chunkId)!.vector), 4);
      }
      const exact = new Set(bruteForce(vector, collections, 10));
      recall += found!.filter((chunk) => exact.has(chunk.chunkId)).length / 10;
    }
    expect(recall / queries).toBeGreaterThanOrEqual(0.95);
  });

  it("falls back to the exact scan when a narrow scope leaves too few of the index's results", () => {
    const tiny = Array.from({ length: 5 }, (_, index) => write(`tiny${index}`, "tiny", unitVector(random, dimensions)));
    syncVectorIndex(database, { threads: 2 });
    const index = new VectorIndex(database);
    expect(index.nearest(unitVector(random, dimensions), ["tiny"], 10)).toBeUndefined();
    const search = new KnowledgeSearch(database, { fusion, vectorIndex: index });
    expect(search.nearest(unitVector(random, dimensions), ["tiny"], 10).map((chunk) => chunk.chunkId).sort((a, b) => a - b)).toEqual(tiny);
  });

  it("syncs incrementally: a deleted chunk never comes back, new and re-embedded ones are found", () => {
    const index = new VectorIndex(database);
    const deletedId = chunkIdOf("d7");
    const deleted = vectors.get(deletedId)!.vector;
    database.deleteDocument("d7");
    vectors.delete(deletedId);
    const added = unitVector(random, dimensions);
    const addedId = write("new", "large", added);
    // An old chunk's vector replaced (as the embedding backfill writes vectors of chunks older than the newest).
    const replacedId = chunkIdOf("d10");
    const replacement = unitVector(random, dimensions);
    database.writeVectors([{ chunkId: replacedId, vector: replacement }]);
    vectors.set(replacedId, { collection: vectors.get(replacedId)!.collection, vector: replacement });

    const sync = syncVectorIndex(database, { threads: 2 });
    expect(sync).toMatchObject({ action: "updated", vectors: vectors.size });
    expect(index.nearest(deleted, "*", 10)!.map((chunk) => chunk.chunkId)).not.toContain(deletedId);
    expect(index.nearest(added, "*", 1)![0]).toMatchObject({ chunkId: addedId });
    expect(index.nearest(added, "*", 1)![0]!.score).toBeCloseTo(1, 5);
    expect(index.nearest(replacement, "*", 1)![0]).toMatchObject({ chunkId: replacedId });
    // A fresh build agrees with the incremental one.
    fs.rmSync(vectorIndexSidecarFile(file));
    expect(syncVectorIndex(database, { threads: 2 })).toMatchObject({ action: "built", vectors: vectors.size });
  });

  it("syncs an index file newer than its sidecar (a crash between their renames) without adding a key twice", () => {
    syncVectorIndex(database, { threads: 2 });
    const olderSidecar = fs.readFileSync(vectorIndexSidecarFile(file));
    const added = unitVector(random, dimensions);
    const addedId = write("after-crash", "large", added);
    syncVectorIndex(database, { threads: 2 });
    fs.writeFileSync(vectorIndexSidecarFile(file), olderSidecar);
    expect(syncVectorIndex(database, { threads: 2 })).toMatchObject({ action: "updated", vectors: vectors.size });
    expect(new VectorIndex(database).nearest(added, "*", 1)![0]).toMatchObject({ chunkId: addedId });
  });

  it("a stale index answers undefined (the search scans exactly, one warning), then reloads the file a later sync wrote", () => {
    const { logger, warn } = warnings();
    const index = new VectorIndex(database, logger);
    const search = new KnowledgeSearch(database, { fusion, vectorIndex: index });
    const added = unitVector(random, dimensions);
    const addedId = write("late", "small", added);
    expect(index.current()).toBe(false);
    expect(index.nearest(added, "*", 5)).toBeUndefined();
    expect(search.nearest(added, "*", 5)[0]).toMatchObject({ chunkId: addedId });
    expect(index.nearest(added, "*", 5)).toBeUndefined();
    expect(warn).toHaveBeenCalledTimes(1);
    expect(String(warn.mock.calls[0]![1])).toMatch(/clawbot kb embed/);

    syncVectorIndex(database, { threads: 2 }); // as `clawbot kb embed` in another process
    expect(index.nearest(added, "*", 5)![0]).toMatchObject({ chunkId: addedId });
    expect(index.current()).toBe(true);
  });

  it("removes the files when every vector is gone, and on reset", () => {
    const other = KnowledgeDatabase.open(path.join(directory, "other.db"), { segmenter: TextSegmenter.create() });
    try {
      other.useEmbedding("random-64", dimensions);
      other.writeDocuments([documentOf("only", "c", unitVector(random, dimensions))]);
      expect(syncVectorIndex(other)).toMatchObject({ action: "built", vectors: 1 });
      other.deleteDocument("only");
      expect(syncVectorIndex(other)).toMatchObject({ action: "removed", vectors: 0 });
      expect(fs.existsSync(vectorIndexFile(other.file))).toBe(false);
      expect(fs.existsSync(vectorIndexSidecarFile(other.file))).toBe(false);
    } finally {
      other.close();
    }
    expect(fs.existsSync(vectorIndexFile(file))).toBe(true);
    database.resetEmbedding();
    expect(fs.existsSync(vectorIndexFile(file))).toBe(false);
    expect(fs.existsSync(vectorIndexSidecarFile(file))).toBe(false);
    expect(new VectorIndex(database).nearest(unitVector(random, dimensions), "*", 5)).toBeUndefined();
  });
});
