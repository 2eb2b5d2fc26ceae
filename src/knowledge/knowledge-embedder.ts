// PLACEHOLDER (helper 2 replaces the bodies). Vectors for the knowledge base: a separate GGUF embedding model, or the chat engine's embed().
import type { LanguageModel } from "../engine/language-model.js";
import type { Logger } from "../logging/logger.js";
import type { KnowledgeEmbedder } from "./knowledge-types.js";

export interface ModelEmbedderOptions {
  /** CPU threads for the embedding context (agent.threads). */
  threads: number;
  logger: Logger;
  /** Tokens one input may take; default the model's training context, at most 2048. */
  contextSize?: number;
}

/** Loads a GGUF model for embeddings only (its own llama.cpp context; chat generation never waits for it). */
export async function openModelEmbedder(modelPath: string, options: ModelEmbedderOptions): Promise<KnowledgeEmbedder> {
  void modelPath;
  void options;
  throw new Error("not implemented");
}

/** The chat engine's own embed() (`knowledge.embed_with_engine`); id `engine:<model>`. */
export function engineEmbedder(engine: LanguageModel): KnowledgeEmbedder {
  void engine;
  throw new Error("not implemented");
}
