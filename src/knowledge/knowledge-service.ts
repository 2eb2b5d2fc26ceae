// Opens a node's knowledge base for `knowledge.enabled`: the file, the embedder (a GGUF model or the engine), the search and the retrieve stage.
import path from "node:path";
import type { KnowledgeConfig } from "../config/schema.js";
import { ClawError } from "../core/errors.js";
import type { LanguageModel } from "../engine/language-model.js";
import type { Logger } from "../logging/logger.js";
import { KnowledgeStage } from "../pipeline/knowledge-stage.js";
import { KnowledgeDatabase } from "./knowledge-database.js";
import { engineEmbedder, openModelEmbedder } from "./knowledge-embedder.js";
import { embedMissing } from "./ingest.js";
import { applyKnowledgeChange, type KnowledgeChange } from "./apply-documents.js";
import { KnowledgeSearch } from "./knowledge-search.js";
import type { KnowledgeEmbedder, RetrievalQuery, RetrievedChunk, Retriever } from "./knowledge-types.js";
import { TextSegmenter } from "./text-segmenter.js";
import { syncVectorIndex, VectorIndex } from "./vector-index.js";

export interface KnowledgeServiceOptions {
  /** The node's data directory: the default file is `<dataDir>/knowledge.db`. */
  dataDir: string;
  /** Relative paths in the config (database, embedding model, user dictionary) resolve against it. */
  baseDir: string;
  /** The chat engine (for `embed_with_engine`); it may still be loading. */
  engine: LanguageModel;
  logger: Logger;
  /** CPU threads for a separate embedding model (agent.threads). */
  threads: number;
  /** Told of each search (the metrics): its mode, seconds, and outcome ("found", "empty", or the error code). */
  onSearch?(mode: Retriever["mode"], seconds: number, outcome: string): void;
}

export interface KnowledgeService {
  /** The pipeline's retrieve stage over this knowledge base. */
  readonly stage: KnowledgeStage;
  /** Its search (the `knowledge_search` tool's); searches are told to `onSearch` like the stage's. */
  readonly retriever: Retriever;
  readonly database: KnowledgeDatabase;
  /**
   * Call once the engine has loaded: with `embed_with_engine`, binds the engine's embed() (refusing vectors of another
   * model, like a separate model at open); until then chat turns get `unavailable`. Nothing to do otherwise.
   */
  engineReady(): Promise<void>;
  /** Applies a change another node made (cluster): chunked and embedded here, with this node's embedder when it has one. */
  applyChange(change: KnowledgeChange): Promise<void>;
  close(): Promise<void>;
}

/** The default knowledge-base file of a node (`knowledge.database` unset). */
export function knowledgeDatabaseFile(config: Pick<KnowledgeConfig, "database">, dataDir: string, baseDir: string): string {
  return config.database ? path.resolve(baseDir, config.database) : path.join(dataDir, "knowledge.db");
}

/**
 * Opens the knowledge base read-write (creating its schema, so a node can start before the first ingest);
 * undefined when `knowledge.enabled` is false. Throws (the start fails) when the stored vectors were made by another
 * embedding model than the configured one.
 */
export async function openKnowledge(config: KnowledgeConfig, options: KnowledgeServiceOptions): Promise<KnowledgeService | undefined> {
  if (!config.enabled) return undefined;
  const { logger } = options;
  const file = knowledgeDatabaseFile(config, options.dataDir, options.baseDir);
  const segmenter = TextSegmenter.create(config.user_dictionary ? { userDictionary: path.resolve(options.baseDir, config.user_dictionary) } : {});
  const database = KnowledgeDatabase.open(file, { segmenter });
  let embedder: KnowledgeEmbedder | undefined;
  /** With `embed_with_engine`: the background embedding of chunks that have no vector (the CLI cannot embed with the engine). */
  const backfill = new AbortController();
  let backfilling: Promise<void> | undefined;
  /** The embedder in use for new chunks: the separate model, or the engine's once it has loaded. */
  let active: KnowledgeEmbedder | undefined;
  /** Applied changes bring the HNSW index up to date a little later, once for a burst of them. */
  let indexTimer: NodeJS.Timeout | undefined;
  try {
    // The HNSW index file the CLI wrote (`kb ingest`/`kb embed`); searches scan exactly while it is missing or stale.
    const vectorIndex = new VectorIndex(database, logger);
    const retriever = new SwitchableRetriever(options.onSearch);
    if (config.embedding_model_path) {
      embedder = await openModelEmbedder(path.resolve(options.baseDir, config.embedding_model_path), { threads: options.threads, logger });
      declareEmbedding(database, embedder);
      active = embedder;
      retriever.use(new KnowledgeSearch(database, { embedder, fusion: config.fusion, vectorIndex }));
    } else if (!config.embed_with_engine) {
      retriever.use(new KnowledgeSearch(database, { fusion: config.fusion }));
    }
    const stage = new KnowledgeStage({
      retriever,
      topK: config.top_k,
      maxPromptTokens: config.max_prompt_tokens,
      ...(config.collections ? { collections: config.collections } : {}),
    });
    const service: KnowledgeService = {
      stage,
      retriever,
      database,
      engineReady: async () => {
        if (!config.embed_with_engine || config.embedding_model_path || retriever.ready) return;
        const fromEngine = engineEmbedder(options.engine);
        declareEmbedding(database, fromEngine);
        active = fromEngine;
        retriever.use(new KnowledgeSearch(database, { embedder: fromEngine, fusion: config.fusion, vectorIndex }));
        logMode(logger, database, file, fromEngine, "they are being embedded in the background, with the chat model");
        // `clawbot kb ingest` has no engine: the chunks it wrote get their vectors here, while the node serves; then this
        // node (the only writer of vectors) syncs the HNSW index, on its event loop, once.
        backfilling = embedMissing(database, fromEngine, { signal: backfill.signal }).then(
          (written) => {
            if (written > 0) logger.info({ vectors: written }, "knowledge base: embedded the chunks that had no vector");
            if (backfill.signal.aborted) return;
            const synced = syncVectorIndex(database);
            if (synced.action !== "current") logger.info({ vectors: synced.vectors, seconds: synced.seconds }, `knowledge base: vector index ${synced.action}`);
          },
          (error: unknown) => void (!backfill.signal.aborted && logger.warn({ err: error }, "knowledge base: embedding the chunks without a vector failed; restart to retry")),
        );
      },
      applyChange: async (change) => {
        const applied = await applyKnowledgeChange(database, change, {
          chunk: { maxTokens: config.chunk.max_tokens, overlapTokens: config.chunk.overlap_tokens },
          embedder: active,
          signal: backfill.signal,
        });
        if (!database.embedding() || (change.kind === "documents" && applied.vectors === 0)) return;
        clearTimeout(indexTimer);
        indexTimer = setTimeout(() => {
          try {
            syncVectorIndex(database);
          } catch (error) {
            logger.warn({ err: error }, "knowledge base: syncing the vector index failed (searches scan exactly meanwhile)");
          }
        }, 2000);
      },
      close: async () => {
        clearTimeout(indexTimer);
        backfill.abort();
        await backfilling;
        try {
          await embedder?.close();
        } finally {
          database.close();
        }
      },
    };
    if (retriever.ready) logMode(logger, database, file, embedder);
    return service;
  } catch (error) {
    await embedder?.close().catch(() => undefined);
    database.close();
    throw error;
  }
}

/** Declares the embedder's model to the database; vectors of another model refuse the start, saying how to re-embed. */
function declareEmbedding(database: KnowledgeDatabase, embedder: KnowledgeEmbedder): void {
  try {
    database.useEmbedding(embedder.id, embedder.dimensions);
  } catch (error) {
    if (error instanceof ClawError && !error.message.includes("kb embed --reset")) {
      throw new ClawError(error.code, `${error.message} Run \`clawbot kb embed --reset\` to re-embed the knowledge base with ${embedder.id}.`);
    }
    throw error;
  }
}

/** Logs how the node searches (BM25 only or hybrid) and warns about what would make answers poorer. */
function logMode(logger: Logger, database: KnowledgeDatabase, file: string, embedder: KnowledgeEmbedder | undefined, missingVectors = "run `clawbot kb embed`"): void {
  const stats = database.stats();
  const sizes = { file, documents: stats.documents, chunks: stats.chunks, vectors: stats.vectors, collections: stats.collections.map((collection) => collection.name) };
  if (embedder) {
    logger.info({ ...sizes, mode: "hybrid", embedding_model: embedder.id, dimensions: embedder.dimensions }, `knowledge base: hybrid search (BM25 and ${embedder.id} vectors)`);
  } else {
    logger.info(
      { ...sizes, mode: "bm25" },
      "knowledge base: BM25 only (no knowledge.embedding_model_path): set it (or knowledge.embed_with_engine) for hybrid search with vectors",
    );
  }
  if (stats.documents === 0) {
    logger.warn({ file }, "the knowledge base is empty: add documents with `clawbot kb ingest`");
  } else if (embedder && stats.vectors < stats.chunks) {
    logger.warn({ file, chunks: stats.chunks, vectors: stats.vectors }, `${stats.chunks - stats.vectors} chunks have no vector yet and are found by BM25 only: ${missingVectors}`);
  }
}

/** The search in use; with `embed_with_engine`, none until the engine has loaded (chat turns are `unavailable` then anyway). */
class SwitchableRetriever implements Retriever {
  private current: KnowledgeSearch | undefined;

  constructor(private readonly onSearch: KnowledgeServiceOptions["onSearch"]) {}

  get mode(): Retriever["mode"] {
    return this.current?.mode ?? "hybrid";
  }

  get ready(): boolean {
    return this.current !== undefined;
  }

  use(search: KnowledgeSearch): void {
    this.current = search;
  }

  async search(query: RetrievalQuery): Promise<RetrievedChunk[]> {
    const search = this.current;
    if (!search) throw new ClawError("unavailable", "The model is still loading; retry when /readyz says ready.");
    const startedAt = performance.now();
    const told = (outcome: string) => this.onSearch?.(search.mode, (performance.now() - startedAt) / 1000, outcome);
    try {
      const found = await search.search(query);
      told(found.length > 0 ? "found" : "empty");
      return found;
    } catch (error) {
      told(error instanceof ClawError ? error.code : "internal");
      throw error;
    }
  }
}
