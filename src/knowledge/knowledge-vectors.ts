// The knowledge base's chunk vectors: float32 BLOBs by chunk id, a sqlite-vec bit table for candidates, exact rescoring.
import os from "node:os";
import type { Statement } from "better-sqlite3";
import { ClawError } from "../core/errors.js";
import type { SqliteDatabase } from "../store/database.js";
import type { CollectionScope, DocumentWrite } from "./knowledge-types.js";

/** The chunks' vectors as stored: little-endian float32 BLOBs, one row per chunk (created by the schema). */
export const embeddingTable = "kb_chunk_embeddings";

/** The sqlite-vec table of the vectors' signs (one bit a dimension; rowid = chunk id, partitioned by collection), created by `create`. */
export const bitTable = "kb_chunk_bits";

/** sqlite-vec's largest k for a KNN query. */
export const maximumCandidates = 4096;

/**
 * Stored vectors × k a bit KNN may cost. sqlite-vec's KNN time grows with k as well as with the vectors scanned
 * (measured at 100k × 384 bits on 2 cores: k = 110 in ~15 ms, k = 440 in 70–125 ms), so k is held to this budget over
 * the stored vector count: ~120 at 100k vectors, the full oversample below ~20k, and all of a few thousand (exact).
 */
export const candidateBudget = 12_000_000;

/** How long a vector count is reused for the candidate budget (it only sizes k: a slightly stale one is harmless). */
const countTtlMs = 5000;

/**
 * Bit candidates fetched per result wanted. One bit a dimension keeps only the sign of each component, so Hamming
 * distance estimates the angle more coarsely the fewer dimensions there are: about 4096 bits of candidate list per
 * result (11× at 384 dimensions, 64× at 64) keeps the exact top results among the candidates, between 8× (large models,
 * where the bits alone already rank well) and 64× (small ones, where rescoring the candidates is still cheap).
 */
export function oversampleFor(dimensions: number): number {
  return Math.min(64, Math.max(8, Math.ceil(4096 / dimensions)));
}

/** A chunk by its exact cosine similarity to the query. */
export interface ScoredChunk {
  chunkId: number;
  score: number;
}

interface Statements {
  insertEmbedding: Statement<[number | bigint, Buffer]>;
  insertBits: Statement<[bigint, string, Buffer]>;
  deleteEmbedding: Statement<[number | bigint]>;
  deleteBits: Statement<[bigint]>;
}

if (os.endianness() !== "LE") throw new Error("The knowledge base stores vectors as little-endian float32: this host is big-endian");

/** The vector half of `KnowledgeDatabase` (which runs its writes in transactions): the model, writes, deletes, nearest neighbours. */
export class KnowledgeVectors {
  private statements: Statements | undefined;
  private counted: { vectors: number; at: number } | undefined;

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
    if (current && current.model === model && current.dimensions === dimensions && this.exists()) return;
    if (current && this.storedCount() > 0) {
      throw new ClawError(
        "bad_request",
        `The knowledge base ${file} holds vectors of ${current.model} (${current.dimensions} dimensions), not of ${model} (${dimensions} dimensions): ` +
          "run `clawbot kb embed --reset` to re-embed them with the new model.",
      );
    }
    this.create(dimensions);
    const setMeta = this.sqlite.prepare("INSERT INTO kb_meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value");
    setMeta.run("embedding_model", model);
    setMeta.run("embedding_dimensions", String(dimensions));
  }

  /** Drops every vector and the declared model (in the caller's transaction). */
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

  /** `KnowledgeDatabase.writeVectors` (in its transaction): replaces stored chunks' vectors, skipping chunks deleted meanwhile. */
  write(rows: readonly { chunkId: number; vector: Float32Array }[]): void {
    const { dimensions } = this.required();
    const chunk = this.sqlite.prepare<[number], { collection: string; has_vector: number }>(
      "SELECT d.collection, c.has_vector FROM kb_chunks c JOIN kb_documents d ON d.id = c.document_id WHERE c.id = ?",
    );
    const mark = this.sqlite.prepare<[number]>("UPDATE kb_chunks SET has_vector = 1 WHERE id = ?");
    for (const row of rows) {
      if (row.vector.length !== dimensions) throw dimensionMismatch(row.vector.length, dimensions);
      const stored = chunk.get(row.chunkId);
      if (!stored) continue;
      if (stored.has_vector) this.delete(row.chunkId);
      this.insert(row.chunkId, stored.collection, row.vector);
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

  /** Whether the bit table exists (after `create`, until `drop`). */
  exists(): boolean {
    return this.sqlite.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?").get(bitTable) !== undefined;
  }

  /** Creates the bit table for vectors of `dimensions` (dropping any stored vectors first). */
  private create(dimensions: number): void {
    this.drop();
    this.sqlite.exec(`CREATE VIRTUAL TABLE ${bitTable} USING vec0(collection text partition key, embedding bit[${paddedBits(dimensions)}])`);
  }

  /** Drops the bit table and every stored vector (the chunks then have none). */
  private drop(): void {
    this.statements = undefined;
    this.sqlite.exec(`DROP TABLE IF EXISTS ${bitTable}; DELETE FROM ${embeddingTable}`);
    this.sqlite.prepare("UPDATE kb_chunks SET has_vector = 0 WHERE has_vector = 1").run();
  }

  /** Stores a chunk's vector (the chunk must have none: `delete` it first). */
  insert(chunkId: number | bigint, collection: string, vector: Float32Array): void {
    const statements = this.prepared();
    statements.insertEmbedding.run(chunkId, Buffer.from(vector.buffer, vector.byteOffset, vector.byteLength));
    statements.insertBits.run(BigInt(chunkId), collection, signBits(vector));
  }

  delete(chunkId: number | bigint): void {
    const statements = this.prepared();
    statements.deleteEmbedding.run(chunkId);
    statements.deleteBits.run(BigInt(chunkId));
  }

  /**
   * The `limit` chunks in scope most similar to `query` by cosine, best first (ties: lower chunk id first). Candidates
   * come from the bit table (Hamming distance, `limit × oversampleFor(dimensions)` of them, per collection in scope);
   * their float vectors are read by primary key and ranked exactly. Exact whenever the scope holds no more vectors than
   * that. Empty before `create`.
   */
  nearest(query: Float32Array, collections: CollectionScope, limit: number): ScoredChunk[] {
    if (limit < 1 || (collections !== "*" && collections.length === 0) || !this.exists()) return [];
    const k = candidatesFor(limit, query.length, this.vectorCount());
    const scoped = collections === "*" ? "" : `AND collection IN (${collections.map(() => "?").join(", ")})`;
    // Point lookups in a vec0 table are slow (~0.6 ms each); the ordinary table answers them by primary key.
    const statement = this.sqlite.prepare<unknown[], { chunkId: number; embedding: Buffer }>(
      `WITH candidates AS (SELECT rowid FROM ${bitTable} WHERE embedding MATCH vec_bit(?) AND k = ? ${scoped})
       SELECT e.chunk_id AS chunkId, e.embedding FROM candidates JOIN ${embeddingTable} e ON e.chunk_id = candidates.rowid`,
    );
    const bits = signBits(query);
    const rows = collections === "*" ? statement.all(bits, k) : statement.all(bits, k, ...collections);
    const queryNorm = Math.sqrt(dot(query, query)) || 1;
    const scored: ScoredChunk[] = [];
    for (const row of rows) {
      const vector = float32s(row.embedding);
      if (vector.length !== query.length) continue;
      const norm = Math.sqrt(dot(vector, vector)) || 1;
      scored.push({ chunkId: row.chunkId, score: dot(query, vector) / (queryNorm * norm) });
    }
    scored.sort((left, right) => right.score - left.score || left.chunkId - right.chunkId);
    return scored.slice(0, limit);
  }

  /** Vectors stored in all collections (an upper bound on those in scope), recounted at most every `countTtlMs`. */
  private vectorCount(): number {
    const now = Date.now();
    if (!this.counted || now - this.counted.at > countTtlMs) this.counted = { vectors: this.storedCount(), at: now };
    return this.counted.vectors;
  }

  private storedCount(): number {
    // All chunks (counted on the small (document_id, position) index) less those without a vector (the partial index).
    const sql = "SELECT (SELECT COUNT(*) FROM kb_chunks) - (SELECT COUNT(*) FROM kb_chunks WHERE has_vector = 0) AS count";
    return (this.sqlite.prepare<[], { count: number }>(sql).get() as { count: number }).count;
  }

  private required(): { model: string; dimensions: number } {
    const embedding = this.declared();
    if (!embedding || !this.exists()) throw new Error("Vectors written before useEmbedding declared the embedding model");
    return embedding;
  }

  private prepared(): Statements {
    this.statements ??= {
      insertEmbedding: this.sqlite.prepare(`INSERT INTO ${embeddingTable} (chunk_id, embedding) VALUES (?, ?)`),
      insertBits: this.sqlite.prepare(`INSERT INTO ${bitTable} (rowid, collection, embedding) VALUES (?, ?, vec_bit(?))`),
      deleteEmbedding: this.sqlite.prepare(`DELETE FROM ${embeddingTable} WHERE chunk_id = ?`),
      deleteBits: this.sqlite.prepare(`DELETE FROM ${bitTable} WHERE rowid = ?`),
    };
    return this.statements;
  }
}

function dimensionMismatch(length: number, dimensions: number): ClawError {
  return new ClawError("bad_request", `A vector of ${length} dimensions cannot join the knowledge base's ${dimensions}-dimension vectors.`);
}

/** The bit KNN's k: `limit × oversampleFor(dimensions)`, held to `candidateBudget / vectors` (never under `limit`) and sqlite-vec's maximum. */
export function candidatesFor(limit: number, dimensions: number, vectors: number): number {
  const budget = Math.max(limit, Math.floor(candidateBudget / Math.max(1, vectors)));
  return Math.min(maximumCandidates, limit * oversampleFor(dimensions), budget);
}

/** A stored vector BLOB as float32s (copied when the BLOB is not 4-byte aligned). */
export function float32s(blob: Buffer): Float32Array {
  if (blob.byteOffset % 4 === 0) return new Float32Array(blob.buffer, blob.byteOffset, blob.byteLength / 4);
  return new Float32Array(blob.buffer.slice(blob.byteOffset, blob.byteOffset + blob.byteLength));
}

/** Bits a vector takes in the bit table: its dimensions rounded up to whole bytes (sqlite-vec's bit vectors are bytes). */
function paddedBits(dimensions: number): number {
  return Math.ceil(dimensions / 8) * 8;
}

/** One bit a dimension, set where the component is positive (as sqlite-vec's vec_quantize_binary); padding bits are 0. */
function signBits(vector: Float32Array): Buffer {
  const bits = Buffer.alloc(paddedBits(vector.length) / 8);
  for (let index = 0; index < vector.length; index += 1) {
    if ((vector[index] as number) > 0) bits[index >> 3] = (bits[index >> 3] as number) | (1 << (index & 7));
  }
  return bits;
}

function dot(left: Float32Array, right: Float32Array): number {
  let sum = 0;
  for (let index = 0; index < left.length; index += 1) sum += (left[index] as number) * (right[index] as number);
  return sum;
}
