// The per-step token bias that watermarks an answer: +delta on the logits of the previous token's green list.
import { TokenBias, type LlamaModel, type Token } from "node-llama-cpp";
import { WatermarkGreenLists } from "./watermark-green-list.js";

export interface WatermarkSettings {
  /** The secret the green lists derive from (HMAC-SM3 key). */
  key: string;
  /** Share of the vocabulary in each green list. */
  gamma: number;
  /** Added to each green token's logit before sampling. */
  delta: number;
}

/** Entries (green tokens) over all cached TokenBias objects: a Map entry costs ~30–50 bytes, so under 100 MB. */
const biasCacheBudgetTokens = 2_000_000;

/**
 * Hands node-llama-cpp's sampler a `TokenBias` for the token just before the one being sampled (its public per-step
 * `tokenBias` option, read once per sampled token). Building one costs O(γV) (the green list, then one Map entry per
 * green token); node-llama-cpp copies the entries into typed arrays at every step anyway. The most recently used bias
 * objects are kept: a 512-token vocabulary keeps all of them, a 150k one about 50 (docs/benchmarks.md, Watermark).
 */
export class WatermarkBias {
  readonly lists: WatermarkGreenLists;
  private readonly cache = new Map<Token, TokenBias>();
  private readonly maxCached: number;
  private readonly delta: number;

  constructor(
    private readonly model: LlamaModel,
    settings: WatermarkSettings,
  ) {
    this.lists = new WatermarkGreenLists(settings.key, settings.gamma, modelVocabularySize(model));
    this.delta = settings.delta;
    this.maxCached = Math.max(8, Math.floor(biasCacheBudgetTokens / this.lists.greenCount));
  }

  /** The bias to apply when sampling the token that follows `previous`. */
  after(previous: Token): TokenBias {
    const cached = this.cache.get(previous);
    if (cached) {
      this.cache.delete(previous);
      this.cache.set(previous, cached);
      return cached;
    }
    const bias = TokenBias.for(this.model);
    // `{logit}` adds the value to the logit as is (a number would be read as a probability). End-of-generation tokens
    // are skipped by TokenBias: the watermark never pushes an answer to end.
    // One call with the whole list: TokenBias checks each token once, not once per call.
    bias.set(Array.from(this.lists.tokens(previous)) as Token[], { logit: this.delta });
    this.cache.set(previous, bias);
    if (this.cache.size > this.maxCached) this.cache.delete(this.cache.keys().next().value as Token);
    return bias;
  }
}

/** Tokens in the model's vocabulary (the logits' width), read from the GGUF file's tokenizer metadata. */
export function modelVocabularySize(model: LlamaModel): number {
  const tokens: unknown = model.fileInfo.metadata.tokenizer?.ggml?.tokens;
  if (!Array.isArray(tokens) || tokens.length < 2) throw new Error("The model file has no tokenizer vocabulary (tokenizer.ggml.tokens); it cannot be watermarked.");
  return tokens.length;
}
