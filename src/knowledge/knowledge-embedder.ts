// Vectors for the knowledge base: a separate GGUF embedding model, or the chat engine's embed().
import path from "node:path";
import { ClawError } from "../core/errors.js";
import type { LanguageModel } from "../engine/language-model.js";
import { startLlama } from "../engine/llama/llama-backend.js";
import { LlamaEmbedder } from "../engine/llama/llama-embedder.js";
import type { Logger } from "../logging/logger.js";
import { estimateTokens } from "./chunker.js";
import type { KnowledgeEmbedder } from "./knowledge-types.js";

export interface ModelEmbedderOptions {
  /** CPU threads for the embedding context (agent.threads). */
  threads: number;
  logger: Logger;
  /** Tokens one input may take; default the model's training context, at most 2048. */
  contextSize?: number;
}

/**
 * Tokens the embedding context keeps for what the model adds to an input (beginning and end of sequence): an input
 * must be shorter than the context (`checkEmbeddingInputs`), so `maxTokens` is the context size less these.
 */
const addedTokens = 4;

/** Embedding requests that may wait for the one embedding sequence (ingest sends one at a time; a node's queries a few). */
const maxQueue = 64;

/** Loads a GGUF model for embeddings only (its own llama.cpp context; chat generation never waits for it). */
export async function openModelEmbedder(modelPath: string, options: ModelEmbedderOptions): Promise<KnowledgeEmbedder> {
  // "auto": a GPU backend when one works, else the CPU (the same choice as agent.gpu's default).
  const { llama } = await startLlama("auto", options.logger);
  let model;
  try {
    model = await llama.loadModel({ modelPath });
  } catch (error) {
    await llama.dispose();
    throw new ClawError("bad_request", `knowledge.embedding_model_path: cannot load ${modelPath}: ${(error as Error).message}`, { cause: error });
  }
  const contextSize = Math.min(model.trainContextSize, options.contextSize ?? 2048);
  const embedder = new LlamaEmbedder(model, { contextSize, threads: options.threads, concurrent: 1, maxQueue, logger: options.logger });
  const loaded = model;
  return {
    id: path.basename(modelPath).replace(/\.gguf$/i, ""),
    dimensions: embedder.dimensions,
    maxTokens: Math.max(1, contextSize - addedTokens),
    async embed(texts, embedOptions) {
      if (texts.length === 0) return [];
      const result = await embedder.embed(texts, embedOptions);
      return result.vectors.map((vector) => Float32Array.from(vector));
    },
    countTokens: (text) => loaded.tokenize(text).length,
    async close() {
      await embedder.close();
      await loaded.dispose();
      await llama.dispose();
    },
  };
}

/**
 * The chat engine's own embed() (`knowledge.embed_with_engine`); id `engine:<model>`. Its size and limits are read when
 * used (a node's engine loads after the start); tokens are estimated (see `estimateTokens`).
 */
export function engineEmbedder(engine: LanguageModel): KnowledgeEmbedder {
  const cannot = () =>
    new ClawError("bad_request", `knowledge.embed_with_engine: the engine (${engine.info.engine}, ${engine.info.model}) cannot compute embeddings.`);
  return {
    get id() {
      return `engine:${engine.info.model}`;
    },
    get dimensions() {
      const dimensions = engine.info.embeddingDimensions;
      if (dimensions === undefined || !engine.embed) throw cannot();
      return dimensions;
    },
    get maxTokens() {
      return Math.max(1, engine.info.contextSize - addedTokens);
    },
    async embed(texts, options) {
      if (!engine.embed || engine.info.embeddingDimensions === undefined) throw cannot();
      if (texts.length === 0) return [];
      const result = await engine.embed(texts, options);
      return result.vectors.map((vector) => Float32Array.from(vector));
    },
    countTokens: estimateTokens,
    async close() {
      // The engine belongs to the node, which closes it.
    },
  };
}
