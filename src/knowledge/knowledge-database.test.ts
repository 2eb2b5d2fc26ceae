import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ClawError } from "../core/errors.js";
import { KnowledgeDatabase } from "./knowledge-database.js";
import type { DocumentWrite } from "./knowledge-types.js";
import { TextSegmenter } from "./text-segmenter.js";

const segmenter = TextSegmenter.create();

function document(docId: string, texts: string[], overrides: Partial<DocumentWrite> = {}): DocumentWrite {
  return {
    collection: "records",
    docId,
    source: `records.jsonl:${docId}`,
    file: "/data/records.jsonl",
    hash: `hash-${docId}-${texts.join("|")}`,
    metadata: { department: "内科" },
    chunks: texts.map((text) => ({ text, tokens: text.length })),
    ...overrides,
  };
}

/** A unit vector along axis `axis` of `dimensions`. */
function axis(axisIndex: number, dimensions = 8): Float32Array {
  const vector = new Float32Array(dimensions);
  vector[axisIndex] = 1;
  return vector;
}

describe("KnowledgeDatabase", () => {
  let directory: string;
  let database: KnowledgeDatabase;

  beforeEach(() => {
    directory = fs.mkdtempSync(path.join(os.tmpdir(), "clawbot-kb-"));
    database = KnowledgeDatabase.open(path.join(directory, "kb", "knowledge.db"), { segmenter });
  });
  afterEach(() => {
    database.close();
    fs.rmSync(directory, { recursive: true, force: true });
  });

  const matches = (term: string): number[] =>
    database.sqlite
      .prepare<[string], { rowid: number }>("SELECT rowid FROM kb_chunk_fts WHERE kb_chunk_fts MATCH ? ORDER BY rowid")
      .all(`"${term}"`)
      .map((row) => row.rowid);
  const chunkIds = (docId: string): number[] =>
    database.sqlite
      .prepare<[string], { id: number }>("SELECT c.id FROM kb_chunks c JOIN kb_documents d ON d.id = c.document_id WHERE d.doc_id = ? ORDER BY c.position")
      .all(docId)
      .map((row) => row.id);

  it("creates the file 0600 in a new private directory", () => {
    expect(fs.statSync(path.join(directory, "kb")).mode & 0o777).toBe(0o700);
    expect(fs.statSync(database.file).mode & 0o777).toBe(0o600);
    expect(database.sqlite.pragma("journal_mode", { simple: true })).toBe("wal");
  });

  it("replaces a re-written document's chunks: the index finds the new text, not the old", () => {
    database.writeDocuments([document("a", ["高血压 病史 十年", "old english words"]), document("b", ["糖尿病"])]);
    const oldChunks = chunkIds("a");
    expect(matches("高血压")).toEqual([oldChunks[0]]);
    database.writeDocuments([document("a", ["冠心病 新发"])]);
    expect(matches("高血压")).toEqual([]);
    expect(matches("english")).toEqual([]);
    expect(matches("冠心病")).toEqual(chunkIds("a"));
    expect(chunkIds("a")).toHaveLength(1);
    expect(oldChunks).not.toContain(chunkIds("a")[0]);
    expect(database.stats()).toMatchObject({ documents: 2, chunks: 2 });
  });

  it("deletes by document, in one collection or in all", () => {
    database.writeDocuments([document("a", ["one"]), document("a", ["two"], { collection: "other" }), document("b", ["three"])]);
    expect(database.deleteDocument("a", "other")).toBe(1);
    expect(database.collections()).toEqual(["records"]);
    database.writeDocuments([document("a", ["two"], { collection: "other" })]);
    expect(database.deleteDocument("a")).toBe(2);
    expect(database.deleteDocument("a")).toBe(0);
    expect(matches("one")).toEqual([]);
    expect(matches("two")).toEqual([]);
    expect(database.stats()).toMatchObject({ documents: 1, chunks: 1 });
  });

  it("deletes a collection with its chunks, index rows and file records", () => {
    database.writeDocuments([document("a", ["one", "two"]), document("b", ["three"]), document("c", ["four"], { collection: "kept" })]);
    database.recordFile("records", "/data/records.jsonl", "h1");
    database.recordFile("kept", "/data/records.jsonl", "h2");
    expect(database.deleteCollection("records")).toEqual({ documents: 2, chunks: 3 });
    expect(database.collections()).toEqual(["kept"]);
    expect(database.files()).toEqual([{ collection: "kept", file: "/data/records.jsonl", hash: "h2" }]);
    expect(matches("one")).toEqual([]);
    expect(matches("four")).toHaveLength(1);
  });

  it("records files and their hashes, and deletes a file's documents outside a keep-set or whole", () => {
    const other = { file: "/data/other.jsonl" };
    database.writeDocuments([document("a", ["one"]), document("b", ["two"]), document("c", ["three"]), document("d", ["four"], other)]);
    expect(database.fileHash("records", "/data/records.jsonl")).toBeUndefined();
    database.recordFile("records", "/data/records.jsonl", "h1");
    database.recordFile("records", "/data/records.jsonl", "h2");
    database.recordFile("records", other.file, "h3");
    expect(database.fileHash("records", "/data/records.jsonl")).toBe("h2");
    expect(database.fileHash("another", "/data/records.jsonl")).toBeUndefined();
    expect(database.files("records").map((entry) => entry.file)).toEqual(["/data/other.jsonl", "/data/records.jsonl"]);
    expect([...database.documentsOfFile("records", "/data/records.jsonl").keys()].sort()).toEqual(["a", "b", "c"]);

    expect(database.deleteDocumentsOfFile("records", "/data/records.jsonl", new Set(["b"]))).toBe(2);
    expect([...database.documentsOfFile("records", "/data/records.jsonl").keys()]).toEqual(["b"]);
    expect(matches("one")).toEqual([]);
    expect(matches("two")).toHaveLength(1);

    expect(database.deleteFile("records", other.file)).toBe(1);
    expect(database.fileHash("records", other.file)).toBeUndefined();
    expect(database.stats().documents).toBe(1);
  });

  it("counts documents, chunks and vectors per collection, and the bytes on disk", () => {
    database.useEmbedding("test-model", 8);
    database.writeDocuments([
      document("a", ["one", "two"], { vectors: [axis(0), axis(1)] }),
      document("b", ["three"]),
      document("c", ["four"], { collection: "notes" }),
    ]);
    const stats = database.stats();
    expect(stats.collections).toEqual([
      { name: "notes", documents: 1, chunks: 1, vectors: 0 },
      { name: "records", documents: 2, chunks: 3, vectors: 2 },
    ]);
    expect(stats).toMatchObject({ documents: 3, chunks: 4, vectors: 2, embedding: { model: "test-model", dimensions: 8 } });
    const onDisk = fs.statSync(database.file).size + (fs.existsSync(`${database.file}-wal`) ? fs.statSync(`${database.file}-wal`).size : 0);
    expect(stats.bytes).toBe(onDisk);
    expect(stats.bytes).toBeGreaterThan(0);
  });

  it("refuses another embedding model or size while vectors are stored, naming both, until reset", () => {
    database.useEmbedding("model-a", 8);
    database.useEmbedding("model-a", 8);
    database.writeDocuments([document("a", ["one"], { vectors: [axis(0)] })]);
    const refusal = (() => {
      try {
        database.useEmbedding("model-b", 16);
      } catch (error) {
        return error;
      }
    })();
    expect(refusal).toBeInstanceOf(ClawError);
    expect((refusal as ClawError).code).toBe("bad_request");
    expect((refusal as ClawError).message).toMatch(/model-a.*model-b/);
    expect(() => database.useEmbedding("model-a", 4)).toThrow(ClawError);

    database.resetEmbedding();
    expect(database.embedding()).toBeUndefined();
    expect(database.hasVectors()).toBe(false);
    expect(database.stats().vectors).toBe(0);
    database.useEmbedding("model-b", 16);
    expect(database.embedding()).toEqual({ model: "model-b", dimensions: 16 });
    expect(() => database.writeDocuments([document("b", ["two"], { vectors: [axis(0, 8)] })])).toThrow(/8 dimensions/);
  });

  it("lists chunks without vectors oldest first and writes their vectors", () => {
    database.writeDocuments([document("a", ["one", "two"]), document("b", ["three"])]);
    expect(() => database.writeVectors([{ chunkId: 1, vector: axis(0) }])).toThrow(/useEmbedding/);
    database.useEmbedding("model-a", 8);
    const pending = database.chunksWithoutVectors(10);
    expect(pending.map((row) => row.text)).toEqual(["one", "two", "three"]);
    expect(database.chunksWithoutVectors(2)).toHaveLength(2);
    database.writeVectors(pending.slice(0, 2).map((row, index) => ({ chunkId: row.chunkId, vector: axis(index) })));
    expect(database.chunksWithoutVectors(10).map((row) => row.text)).toEqual(["three"]);
    // Re-writing a vector replaces it; a chunk deleted meanwhile is skipped.
    database.writeVectors([{ chunkId: pending[0]!.chunkId, vector: axis(5) }, { chunkId: 999_999, vector: axis(1) }]);
    expect(database.stats().vectors).toBe(2);
    const count = (table: string) => (database.sqlite.prepare(`SELECT COUNT(*) AS count FROM ${table}`).get() as { count: number }).count;
    expect(count("kb_chunk_embeddings")).toBe(2);
    // Each vector written for a stored chunk is logged for the vector index (three writes); the skipped one is not.
    expect(count("kb_vector_changes")).toBe(3);
    // Deleting the document deletes its vectors and logs both deletions.
    database.deleteDocument("a");
    expect(count("kb_chunk_embeddings")).toBe(0);
    expect(count("kb_vector_changes")).toBe(5);
    // A reset clears the log too.
    database.resetEmbedding();
    expect(count("kb_vector_changes")).toBe(0);
  });

  it("keeps a failed batch out entirely (one transaction)", () => {
    database.useEmbedding("model-a", 8);
    expect(() => database.writeDocuments([document("a", ["one"]), document("b", ["two"], { vectors: [axis(0, 4)] })])).toThrow();
    expect(database.stats().documents).toBe(0);
    expect(matches("one")).toEqual([]);
  });

  it("opens read-only an existing knowledge base, and refuses a missing one naming it and kb ingest", () => {
    database.writeDocuments([document("a", ["one"])]);
    const reader = KnowledgeDatabase.open(database.file, { segmenter, readonly: true });
    try {
      expect(reader.stats().documents).toBe(1);
      expect(() => reader.writeDocuments([document("b", ["two"])])).toThrow();
    } finally {
      reader.close();
    }
    const missing = path.join(directory, "missing.db");
    expect(() => KnowledgeDatabase.open(missing, { segmenter, readonly: true })).toThrow(new RegExp(`${missing}.*kb ingest`));
    expect(fs.existsSync(missing)).toBe(false);
  });

  it("refuses a file that is not a database with a storage_error naming it", () => {
    const bogus = path.join(directory, "bogus.db");
    fs.writeFileSync(bogus, "this is not an SQLite database, just some text long enough to fill a header page".repeat(20));
    for (const readonly of [false, true]) {
      try {
        KnowledgeDatabase.open(bogus, { segmenter, readonly });
        expect.unreachable();
      } catch (error) {
        expect((error as ClawError).code).toBe("storage_error");
        expect((error as Error).message).toContain(bogus);
      }
    }
  });
});
