// Reads a text's watermark: tokenizes it with the model's own tokenizer (vocabulary only, no weights) and scores it.
import { getLlama, LlamaLogLevel, type Llama, type LlamaModel } from "node-llama-cpp";
import { modelVocabularySize } from "./watermark-bias.js";
import { WatermarkGreenLists } from "./watermark-green-list.js";
import { scoreWatermark, type WatermarkScore } from "./watermark-score.js";

export interface WatermarkDetection extends WatermarkScore {
  /** Tokens the text splits into (the scored ones are the distinct pairs after the first). */
  tokens: number;
}

/** A model's tokenizer loaded for detection; `close()` frees it. */
export class WatermarkDetector {
  private constructor(
    private readonly llama: Llama,
    private readonly model: LlamaModel,
  ) {}

  /** Loads only the vocabulary of the GGUF file (node-llama-cpp's `vocabOnly`): fast, and no memory for the weights. */
  static async open(modelPath: string): Promise<WatermarkDetector> {
    const llama = await getLlama({ gpu: false, build: "never", logLevel: LlamaLogLevel.error, logger: () => {} });
    try {
      return new WatermarkDetector(llama, await llama.loadModel({ modelPath, vocabOnly: true }));
    } catch (error) {
      await llama.dispose();
      throw new Error(`Cannot read the tokenizer of ${modelPath}: ${(error as Error).message}`, { cause: error });
    }
  }

  /** Scores `text` against the green lists of `key`; the text is tokenized as plain text (no special tokens). */
  detect(text: string, settings: { key: string; gamma: number }): WatermarkDetection {
    const lists = new WatermarkGreenLists(settings.key, settings.gamma, modelVocabularySize(this.model));
    const tokens = this.model.tokenize(text);
    return { ...scoreWatermark(tokens, lists), tokens: tokens.length };
  }

  async close(): Promise<void> {
    await this.model.dispose();
    await this.llama.dispose();
  }
}
