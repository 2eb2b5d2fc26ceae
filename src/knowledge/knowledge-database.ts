// The knowledge base's SQLite file: documents, chunks, the FTS5 index of their segmented text, and their vectors.
import fs from "node:fs";
import type { SqliteDatabase } from "../store/database.js";
import { storageError } from "../store/storage-error.js";
import type { DocumentWrite, KnowledgeStats } from "./knowledge-types.js";
import { openKnowledgeSqlite } from "./knowledge-schema.js";
import { KnowledgeVectors } from "./knowledge-vectors.js";
import { removeVectorIndexFiles } from "./vector-index.js";
import type { TextSegmenter } from "./text-segmenter.js";

export interface KnowledgeDatabaseOptions {
  /** Segments chunk text for the FTS5 index (writes) and queries (reads). */
  segmenter: TextSegmenter;
  /** Open an existing file for reading only (the node's retriever never writes). Default false: create and migrate. */
  readonly?: boolean;
}

/** A file ingested whole, with its content hash: an unchanged file is skipped on re-ingest. */
export interface IngestedFile {
  collection: string;
  file: string;
  hash: string;
}

/** The statements a write reuses (prepared once: a 100k-record ingest runs them millions of times). */
function prepareStatements(sqlite: SqliteDatabase) {
  return {
    upsertDocument: sqlite.prepare<[string, string, string, string, string, string, number], { id: number }>(
      `INSERT INTO kb_documents (collection, doc_id, source, file, hash, metadata, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (collection, doc_id) DO UPDATE SET source = excluded.source, file = excluded.file, hash = excluded.hash,
         metadata = excluded.metadata, updated_at = excluded.updated_at
       RETURNING id`,
    ),
    insertChunk: sqlite.prepare<[number, number, string, number, number]>(
      "INSERT INTO kb_chunks (document_id, position, text, tokens, has_vector) VALUES (?, ?, ?, ?, ?)",
    ),
    insertTerms: sqlite.prepare<[number | bigint, string]>("INSERT INTO kb_chunk_fts (rowid, terms) VALUES (?, ?)"),
    chunksOf: sqlite.prepare<[number], { id: number; has_vector: number }>("SELECT id, has_vector FROM kb_chunks WHERE document_id = ?"),
    deleteTerms: sqlite.prepare<[number]>("DELETE FROM kb_chunk_fts WHERE rowid = ?"),
    deleteChunks: sqlite.prepare<[number]>("DELETE FROM kb_chunks WHERE document_id = ?"),
    deleteDocument: sqlite.prepare<[number]>("DELETE FROM kb_documents WHERE id = ?"),
    documentIdsOfFile: sqlite.prepare<[string, string], { id: number; doc_id: string; hash: string }>(
      "SELECT id, doc_id, hash FROM kb_documents WHERE collection = ? AND file = ?",
    ),
  };
}

export class KnowledgeDatabase {
  private readonly statements: ReturnType<typeof prepareStatements>;
  /** The chunks' vectors: stored, deleted and searched (nearest neighbours) there. */
  readonly vectors: KnowledgeVectors;

  private constructor(
    readonly file: string,
    readonly sqlite: SqliteDatabase,
    readonly segmenter: TextSegmenter,
  ) {
    this.statements = prepareStatements(sqlite);
    this.vectors = new KnowledgeVectors(sqlite);
  }

  /** Opens (creating and migrating unless readonly) the file, with sqlite-vec loaded; WAL, busy timeout, private mode. */
  static open(file: string, options: KnowledgeDatabaseOptions): KnowledgeDatabase {
    const sqlite = openKnowledgeSqlite(file, options.readonly ?? false);
    try {
      return new KnowledgeDatabase(file, sqlite, options.segmenter);
    } catch (error) {
      sqlite.close();
      throw storageError(`Opening the knowledge base ${file}`, error);
    }
  }

  /** Runs `work` in one transaction (immediate), returning its result. */
  transaction<Result>(work: () => Result): Result {
    return this.sqlite.transaction(work).immediate();
  }

  /** The hash recorded for a file ingested whole; undefined when never recorded (or it changed mid-ingest). */
  fileHash(collection: string, file: string): string | undefined {
    const row = this.sqlite.prepare<[string, string], { hash: string }>("SELECT hash FROM kb_files WHERE collection = ? AND file = ?").get(collection, file);
    return row?.hash;
  }

  /** Files recorded for one collection, or for all. */
  files(collection?: string): IngestedFile[] {
    const rows =
      collection === undefined
        ? this.sqlite.prepare<[], IngestedFile>("SELECT collection, file, hash FROM kb_files ORDER BY collection, file").all()
        : this.sqlite.prepare<[string], IngestedFile>("SELECT collection, file, hash FROM kb_files WHERE collection = ? ORDER BY file").all(collection);
    return rows;
  }

  /** docId → hash of the documents stored from one file (to skip unchanged records of a changed file). */
  documentsOfFile(collection: string, file: string): Map<string, string> {
    const documents = new Map<string, string>();
    for (const row of this.statements.documentIdsOfFile.iterate(collection, file)) documents.set(row.doc_id, row.hash);
    return documents;
  }

  /**
   * Writes documents, each replacing the stored one with its collection and docId (its old chunks, FTS rows and vectors
   * deleted), in the caller's transaction when there is one, else in one of its own. Vectors are written when given
   * (after `useEmbedding`).
   */
  writeDocuments(documents: readonly DocumentWrite[]): void {
    this.inTransaction(() => {
      const now = Date.now();
      const statements = this.statements;
      for (const document of documents) {
        const vectors = document.vectors === undefined ? undefined : this.vectors.checked(document);
        const { id } = statements.upsertDocument.get(
          document.collection, document.docId, document.source, document.file, document.hash, JSON.stringify(document.metadata), now,
        ) as { id: number };
        this.deleteChunksOf(id);
        document.chunks.forEach((chunk, position) => {
          const vector = vectors?.[position];
          const chunkId = statements.insertChunk.run(id, position, chunk.text, chunk.tokens, vector ? 1 : 0).lastInsertRowid;
          statements.insertTerms.run(chunkId, this.segmenter.indexText(chunk.text));
          if (vector) this.vectors.insert(chunkId, vector);
        });
      }
    });
  }

  /** Records a file as ingested whole with `hash` (call it after the file's last batch was written). */
  recordFile(collection: string, file: string, hash: string): void {
    this.sqlite
      .prepare("INSERT INTO kb_files (collection, file, hash) VALUES (?, ?, ?) ON CONFLICT (collection, file) DO UPDATE SET hash = excluded.hash")
      .run(collection, file, hash);
  }

  /** Forgets a file's record (before re-ingesting a changed file: a crash midway then leaves it unrecorded, so the re-run reads it again). */
  forgetFile(collection: string, file: string): void {
    this.sqlite.prepare("DELETE FROM kb_files WHERE collection = ? AND file = ?").run(collection, file);
  }

  /** Deletes the documents of `file` whose ids are not in `keep` (records removed from it); returns how many. */
  deleteDocumentsOfFile(collection: string, file: string, keep: ReadonlySet<string>): number {
    return this.inTransaction(() => {
      const gone = this.statements.documentIdsOfFile.all(collection, file).filter((row) => !keep.has(row.doc_id));
      for (const row of gone) this.deleteDocumentRow(row.id);
      return gone.length;
    });
  }

  /** Deletes a file's documents and its record (`--delete-missing`); returns the documents deleted. */
  deleteFile(collection: string, file: string): number {
    return this.inTransaction(() => {
      const deleted = this.deleteDocumentsOfFile(collection, file, new Set());
      this.forgetFile(collection, file);
      return deleted;
    });
  }

  /** Deletes one document (in one collection, or in every one that has it); returns how many were deleted. */
  deleteDocument(docId: string, collection?: string): number {
    return this.inTransaction(() => {
      const rows =
        collection === undefined
          ? this.sqlite.prepare<[string], { id: number }>("SELECT id FROM kb_documents WHERE doc_id = ?").all(docId)
          : this.sqlite.prepare<[string, string], { id: number }>("SELECT id FROM kb_documents WHERE collection = ? AND doc_id = ?").all(collection, docId);
      for (const row of rows) this.deleteDocumentRow(row.id);
      return rows.length;
    });
  }

  /** Deletes a collection: its documents, chunks, vectors and file records. */
  deleteCollection(collection: string): { documents: number; chunks: number } {
    return this.inTransaction(() => {
      const rows = this.sqlite.prepare<[string], { id: number }>("SELECT id FROM kb_documents WHERE collection = ?").all(collection);
      let chunks = 0;
      for (const row of rows) chunks += this.deleteDocumentRow(row.id);
      this.sqlite.prepare("DELETE FROM kb_files WHERE collection = ?").run(collection);
      return { documents: rows.length, chunks };
    });
  }

  collections(): string[] {
    return this.sqlite.prepare<[], { collection: string }>("SELECT DISTINCT collection FROM kb_documents ORDER BY collection").all().map((row) => row.collection);
  }

  stats(): KnowledgeStats {
    const byName = new Map<string, { name: string; documents: number; chunks: number; vectors: number }>();
    const documentCounts = this.sqlite
      .prepare<[], { collection: string; documents: number }>("SELECT collection, COUNT(*) AS documents FROM kb_documents GROUP BY collection ORDER BY collection")
      .all();
    for (const row of documentCounts) byName.set(row.collection, { name: row.collection, documents: row.documents, chunks: 0, vectors: 0 });
    const chunkCounts = this.sqlite
      .prepare<[], { collection: string; chunks: number; vectors: number }>(
        `SELECT d.collection, COUNT(*) AS chunks, TOTAL(c.has_vector) AS vectors
         FROM kb_chunks c JOIN kb_documents d ON d.id = c.document_id GROUP BY d.collection`,
      )
      .all();
    for (const row of chunkCounts) {
      const entry = byName.get(row.collection);
      if (entry) Object.assign(entry, { chunks: row.chunks, vectors: row.vectors });
    }
    const collections = [...byName.values()];
    const sum = (key: "documents" | "chunks" | "vectors") => collections.reduce((total, entry) => total + entry[key], 0);
    return { collections, documents: sum("documents"), chunks: sum("chunks"), vectors: sum("vectors"), embedding: this.embedding(), bytes: this.bytes() };
  }

  /** The model and dimensions the stored vectors were made with; undefined before any. */
  embedding(): { model: string; dimensions: number } | undefined {
    return this.vectors.declared();
  }

  /** Whether the vector tables exist (after `useEmbedding`, until `resetEmbedding`). */
  hasVectors(): boolean {
    return this.vectors.exists();
  }

  /**
   * Declares the embedding model (creating the vector tables for its dimensions). Throws a ClawError (`bad_request`)
   * naming both models when vectors of another model or size are stored: `clawbot kb embed --reset` re-embeds them.
   */
  useEmbedding(model: string, dimensions: number): void {
    if (!Number.isInteger(dimensions) || dimensions < 1 || dimensions > 8192) throw new Error(`Embedding dimensions must be an integer from 1 to 8192, not ${dimensions}`);
    this.inTransaction(() => this.vectors.declare(model, dimensions, this.file));
  }

  /** Drops every vector, the change log, the declared model and the HNSW index files (`kb embed --reset`). */
  resetEmbedding(): void {
    this.inTransaction(() => this.vectors.reset());
    removeVectorIndexFiles(this.file);
  }

  /** Up to `limit` chunks without a vector, oldest first (embedding resumes from them). */
  chunksWithoutVectors(limit: number): { chunkId: number; text: string }[] {
    return this.vectors.pending(limit);
  }

  /** Writes the vectors of stored chunks (replacing any they had); chunks deleted meanwhile are skipped. */
  writeVectors(rows: readonly { chunkId: number; vector: Float32Array }[]): void {
    this.inTransaction(() => this.vectors.write(rows));
  }

  close(): void {
    this.sqlite.close();
  }

  /** The database file's size on disk with its WAL. */
  private bytes(): number {
    let total = 0;
    for (const suffix of ["", "-wal"]) {
      try {
        total += fs.statSync(this.file + suffix).size;
      } catch {
        // No WAL (checkpointed and removed, or read-only).
      }
    }
    return total;
  }

  private inTransaction<Result>(work: () => Result): Result {
    return this.sqlite.inTransaction ? work() : this.transaction(work);
  }

  /** Deletes a document's chunks, their FTS rows and vectors; returns how many chunks. */
  private deleteChunksOf(documentId: number): number {
    const chunks = this.statements.chunksOf.all(documentId);
    if (chunks.length === 0) return 0;
    for (const chunk of chunks) {
      this.statements.deleteTerms.run(chunk.id);
      if (chunk.has_vector) this.vectors.delete(chunk.id);
    }
    this.statements.deleteChunks.run(documentId);
    return chunks.length;
  }

  private deleteDocumentRow(documentId: number): number {
    const chunks = this.deleteChunksOf(documentId);
    this.statements.deleteDocument.run(documentId);
    return chunks;
  }

}
