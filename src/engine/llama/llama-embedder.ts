// Embeddings from the node's own model: a separate llama.cpp embedding context, created on first use and kept.
import type { LlamaEmbeddingContext, LlamaModel } from "node-llama-cpp";
import { ClawError } from "../../core/errors.js";
import type { Logger } from "../../logging/logger.js";
import { AdmissionQueue } from "../admission-queue.js";
import { checkEmbeddingInputs, normalizeVector } from "../embedding-vector.js";
import type { EmbeddingResult } from "../language-model.js";

export interface LlamaEmbedderOptions {
  /** Tokens one input may take (the embedding context's size). */
  contextSize: number;
  /** CPU threads the embedding context asks for; node-llama-cpp splits the machine's threads between evaluating contexts. */
  threads: number;
  /** Embedding requests computed at once (their inputs take turns on the one embedding sequence). */
  concurrent: number;
  /** Embedding requests that may wait; more are refused with `overloaded`. */
  maxQueue: number;
  logger: Logger;
}

/**
 * node-llama-cpp's embedding context has one sequence and reads the embedding of sequence 0, so inputs are evaluated
 * one after another, each in one decode (the batch size is the context size, so an input is never split). The inputs of
 * the requests being served take turns (its lock is first come, first served): a long request does not hold a short
 * one until it has finished. It is its own llama.cpp context: chat generation never waits for its lock, and on the CPU
 * node-llama-cpp's thread splitter shares the cores between the two contexts while both evaluate.
 */
export class LlamaEmbedder {
  private context: Promise<LlamaEmbeddingContext> | undefined;
  private readonly queue: AdmissionQueue;
  private closed = false;

  constructor(
    private readonly model: LlamaModel,
    private readonly options: LlamaEmbedderOptions,
  ) {
    this.queue = new AdmissionQueue(options.concurrent, options.maxQueue);
  }

  get dimensions(): number {
    return this.model.embeddingVectorSize;
  }

  async embed(texts: string[], options: { signal?: AbortSignal } = {}): Promise<EmbeddingResult> {
    const { signal } = options;
    const lease = await this.queue.acquire(signal).catch((error: unknown) => {
      if (error instanceof ClawError && error.code === "overloaded") {
        throw new ClawError("overloaded", `${this.options.concurrent} embedding requests are running and ${this.options.maxQueue} waiting; retry later.`);
      }
      throw error;
    });
    try {
      const context = await this.embeddingContext();
      const tokens = checkEmbeddingInputs(texts, this.options.contextSize, (text) => context.calculateInputLength(text));
      const vectors: number[][] = [];
      for (const text of texts) {
        if (signal?.aborted) throw new ClawError("cancelled", "The embedding request was cancelled.");
        const embedding = await context.getEmbeddingFor(text);
        vectors.push(normalizeVector(embedding.vector));
      }
      return { vectors, promptTokens: tokens.reduce((sum, count) => sum + count, 0) };
    } catch (error) {
      if (error instanceof ClawError) throw error;
      if (this.closed) throw new ClawError("unavailable", "The engine is shutting down.", { cause: error });
      throw new ClawError("internal", `Embedding failed: ${(error as Error).message}`, { cause: error });
    } finally {
      lease.release();
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    this.queue.close(new ClawError("unavailable", "The engine is shutting down."));
    const context = await this.context?.catch(() => undefined);
    await context?.dispose();
  }

  /** The embedding context, created on first use; a failed creation is tried again by the next request. */
  private embeddingContext(): Promise<LlamaEmbeddingContext> {
    this.context ??= this.model
      .createEmbeddingContext({ contextSize: this.options.contextSize, batchSize: this.options.contextSize, threads: this.options.threads })
      .catch((error: unknown) => {
        this.context = undefined;
        this.options.logger.warn({ err: error }, "could not create the embedding context");
        throw new ClawError("unavailable", `The embedding context could not be created: ${(error as Error).message}`, { cause: error });
      });
    return this.context;
  }
}
