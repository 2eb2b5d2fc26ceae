// Searches the knowledge base: BM25 over FTS5, nearest vectors (the HNSW index, else an exact scan), fused by reciprocal rank.
import type { KnowledgeConfig } from "../config/schema.js";
import { ClawError } from "../core/errors.js";
import { storageError } from "../store/storage-error.js";
import type { KnowledgeDatabase } from "./knowledge-database.js";
import type { CollectionScope, KnowledgeEmbedder, RetrievalQuery, RetrievedChunk, Retriever } from "./knowledge-types.js";
import { fuseRankings } from "./rank-fusion.js";
import { TermStatistics } from "./term-statistics.js";
import type { VectorIndex } from "./vector-index.js";

export interface KnowledgeSearchOptions {
  /** Query vectors come from it; without one, search is BM25 only. */
  embedder?: KnowledgeEmbedder;
  fusion: KnowledgeConfig["fusion"];
  /** The HNSW index answering `nearest` while it is current; without one (or when stale), vectors are scanned exactly. */
  vectorIndex?: VectorIndex;
}

/** Candidates each ranking contributes to the fusion: max(4·topK, this). */
export const minimumCandidates = 20;

/** The columns of a retrieved chunk, from kb_chunks `c` and kb_documents `d`. */
const chunkColumns = "c.id AS chunkId, d.doc_id AS docId, d.collection, d.source, c.position AS chunk, c.text, c.tokens, d.metadata";

interface ChunkRow extends Omit<RetrievedChunk, "metadata"> {
  metadata: string;
}

export class KnowledgeSearch implements Retriever {
  readonly mode: "bm25" | "hybrid";
  private readonly terms: TermStatistics;

  constructor(
    private readonly database: KnowledgeDatabase,
    private readonly options: KnowledgeSearchOptions,
  ) {
    this.mode = options.embedder ? "hybrid" : "bm25";
    this.terms = new TermStatistics(database.sqlite);
  }

  /** BM25 and (with an embedder) vector results, fused by weighted reciprocal rank; best first. */
  async search(query: RetrievalQuery): Promise<RetrievedChunk[]> {
    throwIfAborted(query.signal);
    if (query.topK < 1 || (query.collections !== "*" && query.collections.length === 0)) return [];
    const { fusion, embedder } = this.options;
    if (!embedder) return this.keyword(query.text, query.collections, query.topK);
    const candidates = Math.max(4 * query.topK, minimumCandidates);
    const keyword = fusion.bm25_weight > 0 ? this.keyword(query.text, query.collections, candidates) : [];
    if (fusion.vector_weight <= 0) return fuseRankings([{ results: keyword, weight: fusion.bm25_weight }], fusion.rrf_k, query.topK);
    let vector: Float32Array | undefined;
    try {
      [vector] = await embedder.embed([query.text], { signal: query.signal });
    } catch (error) {
      if (query.signal?.aborted) throw cancelled(query.signal);
      throw error;
    }
    throwIfAborted(query.signal);
    const nearest = vector ? this.nearestFor(embedder, vector, query.collections, candidates) : [];
    return fuseRankings(
      [
        { results: keyword, weight: fusion.bm25_weight },
        { results: nearest, weight: fusion.vector_weight },
      ],
      fusion.rrf_k,
      query.topK,
    );
  }

  /**
   * BM25 ranking alone (score: −bm25, higher is better), over the query's informative terms (see `TermStatistics`);
   * when every term is in half the chunks or more, the first chunks matching the rarest one.
   */
  keyword(text: string, collections: CollectionScope, limit: number): RetrievedChunk[] {
    const terms = this.database.segmenter.queryTerms(text);
    if (terms.length === 0 || limit < 1 || (collections !== "*" && collections.length === 0)) return [];
    try {
      const plan = this.terms.plan(terms);
      if (!plan) return [];
      // The FTS5 match drives the join; each matching chunk's document is one primary-key lookup.
      const scoped = collections === "*" ? "" : `AND d.collection IN (${placeholders(collections.length)})`;
      const statement = this.database.sqlite.prepare<unknown[], ChunkRow>(
        `SELECT ${chunkColumns}, -bm25(kb_chunk_fts) AS score
         FROM kb_chunk_fts f JOIN kb_chunks c ON c.id = f.rowid JOIN kb_documents d ON d.id = c.document_id
         WHERE kb_chunk_fts MATCH ? ${scoped}
         ${plan.ranked ? "ORDER BY f.rank" : ""} LIMIT ?`,
      );
      const rows = collections === "*" ? statement.all(plan.expression, limit) : statement.all(plan.expression, ...collections, limit);
      return rows.map(toRetrievedChunk);
    } catch (error) {
      throw storageError("Searching the knowledge base", error);
    }
  }

  /**
   * Nearest chunks by cosine similarity alone (score: the cosine, 1 − cosine distance), best first: from the HNSW index
   * when it is current (`VectorIndex.nearest`), else by an exact scan of the stored vectors (`KnowledgeVectors.nearest`).
   */
  nearest(vector: Float32Array, collections: CollectionScope, limit: number): RetrievedChunk[] {
    if (limit < 1 || (collections !== "*" && collections.length === 0)) return [];
    try {
      const scored = this.options.vectorIndex?.nearest(vector, collections, limit) ?? this.database.vectors.nearest(vector, collections, limit);
      if (scored.length === 0) return [];
      const rows = this.database.sqlite
        .prepare<[string], Omit<ChunkRow, "score">>(
          `SELECT ${chunkColumns} FROM kb_chunks c JOIN kb_documents d ON d.id = c.document_id WHERE c.id IN (SELECT value FROM json_each(?))`,
        )
        .all(JSON.stringify(scored.map((entry) => entry.chunkId)));
      const byId = new Map(rows.map((row) => [row.chunkId, row]));
      return scored.flatMap(({ chunkId, score }) => {
        const row = byId.get(chunkId);
        return row ? [toRetrievedChunk({ ...row, score })] : [];
      });
    } catch (error) {
      throw storageError("Searching the knowledge base's vectors", error);
    }
  }

  /** The nearest chunks when the stored vectors are the embedder's; a `storage_error` saying how to re-embed when not. */
  private nearestFor(embedder: KnowledgeEmbedder, vector: Float32Array, collections: CollectionScope, limit: number): RetrievedChunk[] {
    const stored = this.database.embedding();
    if (!stored) return [];
    if (stored.model !== embedder.id || stored.dimensions !== vector.length) {
      throw new ClawError(
        "storage_error",
        `The knowledge base's vectors were made with ${stored.model} (${stored.dimensions} dimensions), but queries are embedded with ` +
          `${embedder.id} (${vector.length} dimensions): run \`clawbot kb embed --reset\` to re-embed them, or configure that model.`,
      );
    }
    return this.nearest(vector, collections, limit);
  }
}

function toRetrievedChunk(row: ChunkRow): RetrievedChunk {
  return { ...row, metadata: JSON.parse(row.metadata) as Record<string, string> };
}

function placeholders(count: number): string {
  return Array.from({ length: count }, () => "?").join(", ");
}

function cancelled(signal: AbortSignal): ClawError {
  return new ClawError("cancelled", "The request was cancelled.", { cause: signal.reason });
}

function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw cancelled(signal);
}
