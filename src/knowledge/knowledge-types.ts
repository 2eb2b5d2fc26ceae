// The shapes the knowledge base's parts share: documents and chunks going in, ranked chunks coming out, the embedder.

/** One document read from a source file: a whole txt/md file, or one jsonl/csv record. */
export interface SourceDocument {
  /** Unique within its collection: the record's id field, or the file's path relative to the ingest root. */
  docId: string;
  /** Where it came from: the file path as given, with `:<line>` for a jsonl/csv record. */
  source: string;
  text: string;
  /** Fields kept with it (`--meta-fields`), shown in search results. */
  metadata: Record<string, string>;
}

/** One chunk of a document, as the chunker cut it. */
export interface ChunkText {
  text: string;
  /** Its length in tokens (the embedding model's, else the estimate). */
  tokens: number;
}

/** A document with its chunks (and their vectors when an embedder is configured), written in one go. */
export interface DocumentWrite {
  collection: string;
  docId: string;
  source: string;
  /** The file it was read from (absolute path), for change detection and `--delete-missing`. */
  file: string;
  /** SM3 hex of its text and metadata: an unchanged document is skipped on re-ingest. */
  hash: string;
  metadata: Record<string, string>;
  chunks: ChunkText[];
  /** One vector per chunk, in order (L2-normalized), when an embedder is configured; else undefined. */
  vectors?: Float32Array[];
}

/** A chunk found by a search, best first. */
export interface RetrievedChunk {
  /** The chunk's row id (stable until its document is re-ingested). */
  chunkId: number;
  docId: string;
  collection: string;
  source: string;
  /** Its position within its document, from 0. */
  chunk: number;
  text: string;
  /** Tokens it was counted as at ingest. */
  tokens: number;
  /** Higher is better: the fused score (RRF) for hybrid search, the negated BM25 rank value for BM25 only. */
  score: number;
  metadata: Record<string, string>;
}

/** Which collections a search may read: named ones, or every one ("*"). */
export type CollectionScope = "*" | readonly string[];

export interface RetrievalQuery {
  text: string;
  collections: CollectionScope;
  /** Chunks to return at most. */
  topK: number;
  signal?: AbortSignal;
}

/** What the pipeline's retrieve stage asks of the knowledge base. */
export interface Retriever {
  /** "bm25" without an embedder; "hybrid" with one. */
  readonly mode: "bm25" | "hybrid";
  /** Ranked chunks for the query (empty when nothing matches). Throws a ClawError (`storage_error`, `cancelled`) on failure. */
  search(query: RetrievalQuery): Promise<RetrievedChunk[]>;
}

/** Computes chunk and query vectors: a separate GGUF embedding model, or the chat engine's `embed()`. */
export interface KnowledgeEmbedder {
  /** Names the model (file name, or `engine:<model>`): vectors of another model are not comparable. */
  readonly id: string;
  readonly dimensions: number;
  /** Tokens one input may take; the chunker keeps chunks within it. */
  readonly maxTokens: number;
  /** One L2-normalized vector per text, in order. */
  embed(texts: string[], options?: { signal?: AbortSignal }): Promise<Float32Array[]>;
  /** The text's length in the model's tokens. */
  countTokens(text: string): number;
  close(): Promise<void>;
}

/** Sizes of the knowledge base, per collection and in total (`kb stats`, the console). */
export interface KnowledgeStats {
  collections: { name: string; documents: number; chunks: number; vectors: number }[];
  documents: number;
  chunks: number;
  vectors: number;
  /** The embedding model the stored vectors were made with, when there are any. */
  embedding: { model: string; dimensions: number } | undefined;
  /** The database file's size on disk (with its WAL). */
  bytes: number;
}
