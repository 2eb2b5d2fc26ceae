// The knowledge base's chunk vectors: float32 BLOBs by chunk id (the source of truth), a change log for the HNSW index, the exact scan.
import os from "node:os";
import type { Statement } from "better-sqlite3";
import { ClawError } from "../core/errors.js";
import type { SqliteDatabase } from "../store/database.js";
import type { CollectionScope, DocumentWrite } from "./knowledge-types.js";

/** The chunks' vectors as stored: little-endian float32 BLOBs, one row per chunk (created by the schema). */
export const embeddingTable = "kb_chunk_embeddings";

/**
 * The log of chunks whose vector was removed, replaced, or written for a chunk older than newer vectors (embedding
 * backfill): the HNSW index (vector-index.ts) replays it after its `changeSequence`, and adds chunk ids beyond its last.
 */
export const changeTable = "kb_vector_changes";

/** A chunk by its exact cosine similarity to the query. */
export interface ScoredChunk {
  chunkId: number;
  score: number;
}

/** Where the stored vectors stand: the newest vector's chunk id and the change log's last sequence (0 when none). */
export interface VectorState {
  maxChunkId: number;
  changeSequence: number;
}

interface Statements {
  insertEmbedding: Statement<[number | bigint, Buffer]>;
  deleteEmbedding: Statement<[number | bigint]>;
  logChange: Statement<[number | bigint]>;
}

if (os.endianness() !== "LE") throw new Error("The knowledge base stores vectors as little-endian float32: this host is big-endian");

/** The vector half of `KnowledgeDatabase` (which runs its writes in transactions): the model, writes, deletes, the exact scan. */
export class KnowledgeVectors {
  private statements: Statements | undefined;

  constructor(private readonly sqlite: SqliteDatabase) {}

  /** The model and dimensions the stored vectors were made with; undefined before any. */
  declared(): { model: string; dimensions: number } | undefined {
    const meta = this.sqlite.prepare<[string], { value: string }>("SELECT value FROM kb_meta WHERE key = ?");
    const model = meta.get("embedding_model")?.value;
    const dimensions = meta.get("embedding_dimensions")?.value;
    return model === undefined || dimensions === undefined ? undefined : { model, dimensions: Number(dimensions) };
  }

  /** `KnowledgeDatabase.useEmbedding` (in its transaction; `file` names the knowledge base in the refusal). */
  declare(model: string, dimensions: number, file: string): void {
    const current = this.declared();
    if (current && current.model === model && current.dimensions === dimensions) return;
    if (current && this.storedCount() > 0) {
      throw new ClawError(
        "bad_request",
        `The knowledge base ${file} holds vectors of ${current.model} (${current.dimensions} dimensions), not of ${model} (${dimensions} dimensions): ` +
          "run `clawbot kb embed --reset` to re-embed them with the new model.",
      );
    }
    this.drop();
    const setMeta = this.sqlite.prepare("INSERT INTO kb_meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value");
    setMeta.run("embedding_model", model);
    setMeta.run("embedding_dimensions", String(dimensions));
  }

  /** Drops every vector, the change log and the declared model (in the caller's transaction; the index files are the caller's). */
  reset(): void {
    this.drop();
    this.sqlite.prepare("DELETE FROM kb_meta WHERE key IN ('embedding_model', 'embedding_dimensions')").run();
  }

  /** Up to `limit` chunks without a vector, oldest first. */
  pending(limit: number): { chunkId: number; text: string }[] {
    return this.sqlite
      .prepare<[number], { chunkId: number; text: string }>("SELECT id AS chunkId, text FROM kb_chunks WHERE has_vector = 0 ORDER BY id LIMIT ?")
      .all(limit);
  }

  /**
   * `KnowledgeDatabase.writeVectors` (in its transaction): replaces stored chunks' vectors, skipping chunks deleted
   * meanwhile. Each chunk is logged in the change table: it may be older than vectors the index already holds.
   */
  write(rows: readonly { chunkId: number; vector: Float32Array }[]): void {
    const { dimensions } = this.required();
    const chunk = this.sqlite.prepare<[number], { has_vector: number }>("SELECT has_vector FROM kb_chunks WHERE id = ?");
    const mark = this.sqlite.prepare<[number]>("UPDATE kb_chunks SET has_vector = 1 WHERE id = ?");
    for (const row of rows) {
      if (row.vector.length !== dimensions) throw dimensionMismatch(row.vector.length, dimensions);
      const stored = chunk.get(row.chunkId);
      if (!stored) continue;
      if (stored.has_vector) this.prepared().deleteEmbedding.run(row.chunkId);
      this.insert(row.chunkId, row.vector);
      this.prepared().logChange.run(row.chunkId);
      mark.run(row.chunkId);
    }
  }

  /** A document's vectors, checked against its chunks and the declared dimensions (before any of it is written). */
  checked(document: DocumentWrite): Float32Array[] {
    const vectors = document.vectors as Float32Array[];
    if (vectors.length !== document.chunks.length) {
      throw new Error(`Document ${document.docId} has ${document.chunks.length} chunks but ${vectors.length} vectors`);
    }
    const { dimensions } = this.required();
    for (const vector of vectors) if (vector.length !== dimensions) throw dimensionMismatch(vector.length, dimensions);
    return vectors;
  }

  /** Whether an embedding model is declared (after `declare`, until `reset`). */
  exists(): boolean {
    return this.declared() !== undefined;
  }

  /** Drops every stored vector and the change log (the chunks then have none). */
  private drop(): void {
    this.sqlite.exec(`DELETE FROM ${embeddingTable}; DELETE FROM ${changeTable}`);
    this.sqlite.prepare("UPDATE kb_chunks SET has_vector = 0 WHERE has_vector = 1").run();
  }

  /** Stores a new chunk's vector (the chunk must have none: `delete` it first). */
  insert(chunkId: number | bigint, vector: Float32Array): void {
    this.prepared().insertEmbedding.run(chunkId, Buffer.from(vector.buffer, vector.byteOffset, vector.byteLength));
  }

  /** Deletes a chunk's vector and logs it, so the index drops it too. */
  delete(chunkId: number | bigint): void {
    const statements = this.prepared();
    statements.deleteEmbedding.run(chunkId);
    statements.logChange.run(chunkId);
  }

  /** The newest vector's chunk id and the change log's sequence: one cheap query (both are B-tree ends). */
  state(): VectorState {
    return this.sqlite
      .prepare<[], VectorState>(
        `SELECT COALESCE((SELECT MAX(chunk_id) FROM ${embeddingTable}), 0) AS maxChunkId,
                COALESCE((SELECT seq FROM sqlite_sequence WHERE name = '${changeTable}'), 0) AS changeSequence`,
      )
      .get() as VectorState;
  }

  /**
   * The `limit` chunks in scope most similar to `query` by exact cosine, best first (ties: lower chunk id first): a
   * full scan of the stored vectors with sqlite-vec's distance (~120 ms at 100k × 384; the HNSW index answers faster).
   */
  nearest(query: Float32Array, collections: CollectionScope, limit: number): ScoredChunk[] {
    if (limit < 1 || (collections !== "*" && collections.length === 0) || !this.exists()) return [];
    const scoped =
      collections === "*"
        ? ""
        : `JOIN kb_chunks c ON c.id = e.chunk_id JOIN kb_documents d ON d.id = c.document_id WHERE d.collection IN (${collections.map(() => "?").join(", ")})`;
    const statement = this.sqlite.prepare<unknown[], { chunkId: number; distance: number }>(
      `SELECT e.chunk_id AS chunkId, vec_distance_cosine(e.embedding, ?) AS distance FROM ${embeddingTable} e ${scoped}
       ORDER BY distance, e.chunk_id LIMIT ?`,
    );
    const bound = Buffer.from(query.buffer, query.byteOffset, query.byteLength);
    const rows = collections === "*" ? statement.all(bound, limit) : statement.all(bound, ...collections, limit);
    return rows.map((row) => ({ chunkId: row.chunkId, score: 1 - row.distance }));
  }

  /** The chunks of `chunkIds` in scope (those gone are left out). */
  inScope(chunkIds: readonly number[], collections: CollectionScope): Set<number> {
    if (chunkIds.length === 0) return new Set();
    const scoped = collections === "*" ? "" : `AND d.collection IN (${collections.map(() => "?").join(", ")})`;
    const rows = this.sqlite
      .prepare<unknown[], { id: number }>(
        `SELECT c.id FROM kb_chunks c JOIN kb_documents d ON d.id = c.document_id
         WHERE c.id IN (SELECT value FROM json_each(?)) AND c.has_vector = 1 ${scoped}`,
      )
      .all(JSON.stringify(chunkIds), ...(collections === "*" ? [] : collections));
    return new Set(rows.map((row) => row.id));
  }

  private storedCount(): number {
    return (this.sqlite.prepare<[], { count: number }>(`SELECT COUNT(*) AS count FROM ${embeddingTable}`).get() as { count: number }).count;
  }

  private required(): { model: string; dimensions: number } {
    const embedding = this.declared();
    if (!embedding) throw new Error("Vectors written before useEmbedding declared the embedding model");
    return embedding;
  }

  private prepared(): Statements {
    this.statements ??= {
      insertEmbedding: this.sqlite.prepare(`INSERT INTO ${embeddingTable} (chunk_id, embedding) VALUES (?, ?)`),
      deleteEmbedding: this.sqlite.prepare(`DELETE FROM ${embeddingTable} WHERE chunk_id = ?`),
      logChange: this.sqlite.prepare(`INSERT INTO ${changeTable} (chunk_id) VALUES (?)`),
    };
    return this.statements;
  }
}

function dimensionMismatch(length: number, dimensions: number): ClawError {
  return new ClawError("bad_request", `A vector of ${length} dimensions cannot join the knowledge base's ${dimensions}-dimension vectors.`);
}

/** A stored vector BLOB as float32s (copied when the BLOB is not 4-byte aligned). */
export function float32s(blob: Buffer): Float32Array {
  if (blob.byteOffset % 4 === 0) return new Float32Array(blob.buffer, blob.byteOffset, blob.byteLength / 4);
  return new Float32Array(blob.buffer.slice(blob.byteOffset, blob.byteOffset + blob.byteLength));
}
