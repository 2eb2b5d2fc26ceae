// PLACEHOLDER (helper 1 replaces the bodies). Searches the knowledge base: BM25 over FTS5, nearest vectors (sqlite-vec), fused by reciprocal rank.
import type { KnowledgeConfig } from "../config/schema.js";
import type { KnowledgeDatabase } from "./knowledge-database.js";
import type { CollectionScope, KnowledgeEmbedder, RetrievalQuery, RetrievedChunk, Retriever } from "./knowledge-types.js";

export interface KnowledgeSearchOptions {
  /** Query vectors come from it; without one, search is BM25 only. */
  embedder?: KnowledgeEmbedder;
  fusion: KnowledgeConfig["fusion"];
}

export class KnowledgeSearch implements Retriever {
  readonly mode: "bm25" | "hybrid";

  constructor(
    private readonly database: KnowledgeDatabase,
    private readonly options: KnowledgeSearchOptions,
  ) {
    this.mode = options.embedder ? "hybrid" : "bm25";
  }

  /** BM25 and (with an embedder) vector results, fused by weighted reciprocal rank; best first. */
  async search(query: RetrievalQuery): Promise<RetrievedChunk[]> {
    void query;
    void this.database;
    throw new Error("not implemented");
  }

  /** BM25 ranking alone (score: −bm25, higher is better). */
  keyword(text: string, collections: CollectionScope, limit: number): RetrievedChunk[] {
    void text;
    void collections;
    void limit;
    throw new Error("not implemented");
  }

  /** Nearest chunks by cosine distance alone (score: 1 − distance). */
  nearest(vector: Float32Array, collections: CollectionScope, limit: number): RetrievedChunk[] {
    void vector;
    void collections;
    void limit;
    throw new Error("not implemented");
  }
}
