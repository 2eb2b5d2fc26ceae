// Applies a knowledge-base change made elsewhere (another node's `kb ingest`/`kb delete`): record-level, so this node
// computes its own chunks and vectors with its own embedder.
import { chunkText } from "./chunker.js";
import { hashDocument } from "./content-hash.js";
import type { KnowledgeDatabase } from "./knowledge-database.js";
import type { DocumentWrite, KnowledgeEmbedder, SourceDocument } from "./knowledge-types.js";

/** A document as another node read it, with the file it came from there (kept for `--delete-missing` on re-ingest). */
export interface ChangedDocument extends SourceDocument {
  file: string;
}

/** What a `kb ingest` or `kb delete` changed, as every node applies it. */
export type KnowledgeChange =
  | { kind: "documents"; collection: string; documents: ChangedDocument[] }
  | { kind: "delete_documents"; collection: string | undefined; docIds: string[] }
  | { kind: "delete_collection"; collection: string };

export interface ApplyOptions {
  /** `knowledge.chunk`: chunks are also kept within the embedder's `maxTokens`. */
  chunk: { maxTokens: number; overlapTokens: number };
  /** Vectors from it when given; else the chunks wait for one (BM25 finds them meanwhile). */
  embedder?: KnowledgeEmbedder | undefined;
  signal?: AbortSignal;
}

/** Applies one change; returns the chunks written (0 for deletions) and whether vectors were written. */
export async function applyKnowledgeChange(database: KnowledgeDatabase, change: KnowledgeChange, options: ApplyOptions): Promise<{ chunks: number; vectors: number }> {
  if (change.kind === "delete_collection") {
    database.deleteCollection(change.collection);
    return { chunks: 0, vectors: 0 };
  }
  if (change.kind === "delete_documents") {
    database.transaction(() => {
      for (const docId of change.docIds) database.deleteDocument(docId, change.collection);
    });
    return { chunks: 0, vectors: 0 };
  }
  const { embedder } = options;
  const maxTokens = embedder ? Math.min(options.chunk.maxTokens, embedder.maxTokens) : options.chunk.maxTokens;
  const chunking = { maxTokens, overlapTokens: Math.min(options.chunk.overlapTokens, Math.floor(maxTokens / 2)), countTokens: embedder?.countTokens.bind(embedder) };
  const writes: DocumentWrite[] = change.documents.map((document) => ({
    collection: change.collection,
    docId: document.docId,
    source: document.source,
    file: document.file,
    hash: hashDocument(document),
    metadata: document.metadata,
    chunks: chunkText(document.text, chunking),
  }));
  let vectors = 0;
  if (embedder) {
    database.useEmbedding(embedder.id, embedder.dimensions);
    const texts = writes.flatMap((write) => write.chunks.map((chunk) => chunk.text));
    const computed = texts.length > 0 ? await embedder.embed(texts, { signal: options.signal }) : [];
    let next = 0;
    for (const write of writes) {
      write.vectors = computed.slice(next, next + write.chunks.length);
      next += write.chunks.length;
    }
    vectors = computed.length;
  }
  database.writeDocuments(writes);
  return { chunks: writes.reduce((total, write) => total + write.chunks.length, 0), vectors };
}
