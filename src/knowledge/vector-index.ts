// The HNSW index (usearch) of the knowledge base's vectors: a file beside the database, synced from it, searched approximately.
import fs from "node:fs";
import { Index, MetricKind, ScalarKind } from "usearch";
import { defaultThreads } from "../config/schema.js";
import { privateFileMode } from "../core/private-files.js";
import type { Logger } from "../logging/logger.js";
import type { KnowledgeDatabase } from "./knowledge-database.js";
import type { CollectionScope } from "./knowledge-types.js";
import { changeTable, embeddingTable, float32s, type ScoredChunk, type VectorState } from "./knowledge-vectors.js";

/** What the index file holds, in its sidecar `<database>.hnsw.json`: the model, and the database state it was synced to. */
export interface VectorIndexSidecar extends VectorState {
  model: string;
  dimensions: number;
  count: number;
}

export interface VectorIndexSync {
  /** Vectors in the index after the sync (0: no vectors, the files removed). */
  vectors: number;
  /** "built" from every vector, "updated" incrementally, "current" already, "removed" (no vectors left). */
  action: "built" | "updated" | "current" | "removed";
  seconds: number;
}

/**
 * usearch's graph parameters: 16 links a node, 128 candidates while adding, 1024 while searching. At 100k × 384
 * embedding-like vectors (docs/benchmarks.md Finding 14) a search of 256 candidates had recall@10 0.76 against exact
 * search, 1024 had 0.90 (0.96 within 1 % of the 10th distance) at ~7 ms p50 / 15 ms p99 per query.
 */
const graph = { connectivity: 16, expansion_add: 128, expansion_search: 1024 };

/** Vectors read from SQLite and added to the index at a time. */
const batchSize = 4096;

/** The HNSW results fetched per result wanted (and at least `minimumHnswCandidates`), before the scope filter. */
const hnswOversample = 4;
const minimumHnswCandidates = 64;

export function vectorIndexFile(databaseFile: string): string {
  return `${databaseFile}.hnsw`;
}

export function vectorIndexSidecarFile(databaseFile: string): string {
  return `${databaseFile}.hnsw.json`;
}

/** Removes the index and its sidecar (no vectors left, or `kb embed --reset`). */
export function removeVectorIndexFiles(databaseFile: string): void {
  for (const file of [vectorIndexSidecarFile(databaseFile), vectorIndexFile(databaseFile)]) fs.rmSync(file, { force: true });
}

/** The sidecar of the index beside `databaseFile`; undefined when there is none (or it is unreadable). */
export function readVectorIndexSidecar(databaseFile: string): VectorIndexSidecar | undefined {
  try {
    return JSON.parse(fs.readFileSync(vectorIndexSidecarFile(databaseFile), "utf8")) as VectorIndexSidecar;
  } catch {
    return undefined;
  }
}

/**
 * Brings the index file up to date with the database's vectors: built from all of them when there is none (or it was
 * made for another model), else incrementally (the logged changes removed and re-added, newer chunk ids added); saved
 * atomically (0600). Synchronous and CPU-heavy (~75 s for 100k × 384 on 2 threads): the CLI's, or a node's backfill's.
 */
export function syncVectorIndex(database: KnowledgeDatabase, options: { threads?: number } = {}): VectorIndexSync {
  const startedAt = performance.now();
  const seconds = () => (performance.now() - startedAt) / 1000;
  const threads = options.threads ?? defaultThreads();
  const embedding = database.embedding();
  // One read transaction: the state and the rows read agree (writers go on; WAL readers see a snapshot).
  return database.sqlite.transaction((): VectorIndexSync => {
    const state = database.vectors.state();
    if (!embedding || state.maxChunkId === 0) {
      removeVectorIndexFiles(database.file);
      return { vectors: 0, action: "removed", seconds: seconds() };
    }
    const sidecar = readVectorIndexSidecar(database.file);
    let index: Index | undefined;
    if (sidecar && sidecar.model === embedding.model && sidecar.dimensions === embedding.dimensions && fs.existsSync(vectorIndexFile(database.file))) {
      if (sidecar.maxChunkId === state.maxChunkId && sidecar.changeSequence === state.changeSequence) {
        return { vectors: sidecar.count, action: "current", seconds: seconds() };
      }
      index = newIndex(embedding.dimensions);
      index.load(vectorIndexFile(database.file));
      const changed = database.sqlite
        .prepare<[number, number], { chunkId: number }>(`SELECT DISTINCT chunk_id AS chunkId FROM ${changeTable} WHERE sequence > ? AND sequence <= ?`)
        .all(sidecar.changeSequence, state.changeSequence);
      for (const { chunkId } of changed) if (index.contains(BigInt(chunkId))) index.remove(BigInt(chunkId));
      addRows(
        index,
        database,
        `SELECT chunk_id AS chunkId, embedding FROM ${embeddingTable}
         WHERE chunk_id <= ? AND (chunk_id > ? OR chunk_id IN (SELECT chunk_id FROM ${changeTable} WHERE sequence > ? AND sequence <= ?))`,
        [state.maxChunkId, sidecar.maxChunkId, sidecar.changeSequence, state.changeSequence],
        threads,
        // The file may be newer than its sidecar (a crash between their renames): a key already there is replaced.
        true,
      );
    }
    const action = index ? "updated" : "built";
    if (!index) {
      index = newIndex(embedding.dimensions);
      addRows(index, database, `SELECT chunk_id AS chunkId, embedding FROM ${embeddingTable} WHERE chunk_id <= ?`, [state.maxChunkId], threads);
    }
    const count = index.size();
    saveIndex(index, database.file, { model: embedding.model, dimensions: embedding.dimensions, count, ...state });
    return { vectors: count, action, seconds: seconds() };
  })();
}

/**
 * A loaded index file, searched while it matches the database (checked each search with one cheap query). When the
 * database moved on (the CLI ingested), it reloads the file if the file's sidecar matches the database; else `nearest`
 * answers undefined (the caller scans exactly) and one warning says to run `clawbot kb embed`.
 */
export class VectorIndex {
  private index: Index | undefined;
  private sidecar: VectorIndexSidecar | undefined;
  private warned = false;

  constructor(
    private readonly database: KnowledgeDatabase,
    private readonly logger?: Logger,
  ) {
    this.reload(database.vectors.state());
  }

  /** Whether the index in memory matches the database now. */
  current(): boolean {
    return this.sidecar !== undefined && sameState(this.sidecar, this.database.vectors.state());
  }

  /**
   * The `limit` chunks in scope nearest to `query` (score: 1 − cosine distance), best first; undefined when no current
   * index answers (stale, or too few of its results are in a narrow scope): scan exactly then.
   */
  nearest(query: Float32Array, collections: CollectionScope, limit: number): ScoredChunk[] | undefined {
    const state = this.database.vectors.state();
    if (!this.sidecar || !sameState(this.sidecar, state)) {
      if (!this.reload(state)) {
        if (!this.warned) {
          this.warned = true;
          this.logger?.warn(
            { file: vectorIndexFile(this.database.file) },
            "knowledge base: the vector index is out of date, so vector search scans every vector (slower): run `clawbot kb embed` to update it (with knowledge.embed_with_engine, the node does when its embedding backfill ends)",
          );
        }
        return undefined;
      }
    }
    const index = this.index as Index;
    const embedding = this.sidecar as VectorIndexSidecar;
    if (query.length !== embedding.dimensions) return undefined;
    const wanted = Math.min(index.size(), Math.max(limit * hnswOversample, minimumHnswCandidates));
    if (wanted === 0) return [];
    const found = index.search(query, wanted, 1);
    const ids = Array.from(found.keys, (key) => Number(key));
    const kept = this.database.vectors.inScope(ids, collections);
    const scored: ScoredChunk[] = [];
    ids.forEach((chunkId, position) => {
      if (kept.has(chunkId)) scored.push({ chunkId, score: 1 - (found.distances[position] as number) });
    });
    scored.sort((left, right) => right.score - left.score || left.chunkId - right.chunkId);
    if (scored.length < limit && collections !== "*" && wanted < index.size()) return undefined;
    return scored.slice(0, limit);
  }

  /** Loads the file when its sidecar matches `state` and the declared model; whether it did. */
  private reload(state: VectorState): boolean {
    const embedding = this.database.embedding();
    const sidecar = readVectorIndexSidecar(this.database.file);
    if (!embedding || !sidecar || !sameState(sidecar, state) || sidecar.model !== embedding.model || sidecar.dimensions !== embedding.dimensions) return false;
    try {
      const index = newIndex(sidecar.dimensions);
      index.view(vectorIndexFile(this.database.file));
      // A sync replacing the file between the sidecar read and the view: not the index the sidecar describes.
      if (index.size() !== sidecar.count) return false;
      this.index = index;
      this.sidecar = sidecar;
      this.warned = false;
      return true;
    } catch {
      return false;
    }
  }
}

function sameState(sidecar: VectorState, state: VectorState): boolean {
  return sidecar.maxChunkId === state.maxChunkId && sidecar.changeSequence === state.changeSequence;
}

function newIndex(dimensions: number): Index {
  return new Index({ dimensions, metric: MetricKind.Cos, quantization: ScalarKind.F32, multi: false, ...graph });
}

/** Streams the rows of `sql` (chunkId, embedding) into the index, `batchSize` at a time. */
function addRows(index: Index, database: KnowledgeDatabase, sql: string, parameters: number[], threads: number, replace = false): void {
  const dimensions = index.dimensions();
  let keys: bigint[] = [];
  let vectors = new Float32Array(batchSize * dimensions);
  const flush = () => {
    if (keys.length === 0) return;
    index.add(BigUint64Array.from(keys), vectors.subarray(0, keys.length * dimensions), threads);
    keys = [];
    vectors = new Float32Array(batchSize * dimensions);
  };
  for (const row of database.sqlite.prepare<number[], { chunkId: number; embedding: Buffer }>(sql).iterate(...parameters)) {
    const vector = float32s(row.embedding);
    if (vector.length !== dimensions) continue;
    const key = BigInt(row.chunkId);
    if (replace && index.contains(key)) index.remove(key);
    vectors.set(vector, keys.length * dimensions);
    keys.push(key);
    if (keys.length === batchSize) flush();
  }
  flush();
}

/** Saves the index then its sidecar, each under a temporary name renamed into place, mode 0600. */
function saveIndex(index: Index, databaseFile: string, sidecar: VectorIndexSidecar): void {
  const file = vectorIndexFile(databaseFile);
  const temporary = `${file}.${process.pid}.tmp`;
  index.save(temporary);
  fs.chmodSync(temporary, privateFileMode);
  fs.renameSync(temporary, file);
  const sidecarFile = vectorIndexSidecarFile(databaseFile);
  const temporarySidecar = `${sidecarFile}.${process.pid}.tmp`;
  fs.writeFileSync(temporarySidecar, `${JSON.stringify(sidecar)}\n`, { mode: privateFileMode });
  fs.chmodSync(temporarySidecar, privateFileMode);
  fs.renameSync(temporarySidecar, sidecarFile);
}
