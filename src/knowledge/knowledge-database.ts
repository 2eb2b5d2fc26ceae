// PLACEHOLDER (helper 1 replaces the bodies; the signatures are the contract other parts code against).
// The knowledge base's SQLite file: documents, chunks, the FTS5 index of their segmented text, and sqlite-vec vectors.
import type { SqliteDatabase } from "../store/database.js";
import type { DocumentWrite, KnowledgeStats } from "./knowledge-types.js";
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

export class KnowledgeDatabase {
  private constructor(
    readonly file: string,
    readonly sqlite: SqliteDatabase,
    readonly segmenter: TextSegmenter,
  ) {}

  /** Opens (creating and migrating unless readonly) the file, with sqlite-vec loaded; WAL, busy timeout, private mode. */
  static open(file: string, options: KnowledgeDatabaseOptions): KnowledgeDatabase {
    void file;
    void options;
    throw new Error("not implemented");
  }

  /** Runs `work` in one transaction (immediate), returning its result. */
  transaction<Result>(work: () => Result): Result {
    return this.sqlite.transaction(work).immediate();
  }

  /** The hash recorded for a file ingested whole; undefined when never recorded (or it changed mid-ingest). */
  fileHash(collection: string, file: string): string | undefined {
    void collection;
    void file;
    throw new Error("not implemented");
  }

  /** Files recorded for one collection, or for all. */
  files(collection?: string): IngestedFile[] {
    void collection;
    throw new Error("not implemented");
  }

  /** docId → hash of the documents stored from one file (to skip unchanged records of a changed file). */
  documentsOfFile(collection: string, file: string): Map<string, string> {
    void collection;
    void file;
    throw new Error("not implemented");
  }

  /**
   * Writes documents, each replacing the stored one with its collection and docId (its old chunks, FTS rows and vectors
   * deleted), in the caller's transaction when there is one, else in one of its own. Vectors are written when given
   * (after `useEmbedding`).
   */
  writeDocuments(documents: readonly DocumentWrite[]): void {
    void documents;
    throw new Error("not implemented");
  }

  /** Records a file as ingested whole with `hash` (call it after the file's last batch was written). */
  recordFile(collection: string, file: string, hash: string): void {
    void collection;
    void file;
    void hash;
    throw new Error("not implemented");
  }

  /** Deletes the documents of `file` whose ids are not in `keep` (records removed from it); returns how many. */
  deleteDocumentsOfFile(collection: string, file: string, keep: ReadonlySet<string>): number {
    void collection;
    void file;
    void keep;
    throw new Error("not implemented");
  }

  /** Deletes a file's documents and its record (`--delete-missing`); returns the documents deleted. */
  deleteFile(collection: string, file: string): number {
    void collection;
    void file;
    throw new Error("not implemented");
  }

  /** Deletes one document (in one collection, or in every one that has it); returns how many were deleted. */
  deleteDocument(docId: string, collection?: string): number {
    void docId;
    void collection;
    throw new Error("not implemented");
  }

  /** Deletes a collection: its documents, chunks, vectors and file records. */
  deleteCollection(collection: string): { documents: number; chunks: number } {
    void collection;
    throw new Error("not implemented");
  }

  collections(): string[] {
    throw new Error("not implemented");
  }

  stats(): KnowledgeStats {
    throw new Error("not implemented");
  }

  /** The model and dimensions the stored vectors were made with; undefined before any. */
  embedding(): { model: string; dimensions: number } | undefined {
    throw new Error("not implemented");
  }

  /**
   * Declares the embedding model (creating the vector table for its dimensions). Throws a ClawError (`bad_request`)
   * naming both models when vectors of another model or size are stored: `clawbot kb embed --reset` re-embeds them.
   */
  useEmbedding(model: string, dimensions: number): void {
    void model;
    void dimensions;
    throw new Error("not implemented");
  }

  /** Drops every vector and the declared model (`kb embed --reset`). */
  resetEmbedding(): void {
    throw new Error("not implemented");
  }

  /** Up to `limit` chunks without a vector, oldest first (embedding resumes from them). */
  chunksWithoutVectors(limit: number): { chunkId: number; text: string }[] {
    void limit;
    throw new Error("not implemented");
  }

  writeVectors(rows: readonly { chunkId: number; vector: Float32Array }[]): void {
    void rows;
    throw new Error("not implemented");
  }

  close(): void {
    this.sqlite.close();
  }
}
