// Stands in for the engine while the model loads, so gateways can listen (and /readyz say 503) before it is ready.
import { ClawError } from "../core/errors.js";
import type { ChatMessage } from "../core/types.js";
import type { DecodeStats, EmbeddingResult, EngineInfo, EngineLoad, EnginePart, EngineRequest, LanguageModel } from "./language-model.js";

export class DeferredEngine implements LanguageModel {
  private engine: LanguageModel | undefined;

  constructor(private readonly placeholder: EngineInfo) {}

  get ready(): boolean {
    return this.engine !== undefined;
  }

  get info(): EngineInfo {
    return this.engine?.info ?? this.placeholder;
  }

  resolve(engine: LanguageModel): void {
    this.engine = engine;
  }

  load(): EngineLoad {
    return this.engine?.load() ?? { active: 0, queued: 0 };
  }

  countPromptTokens(messages: ChatMessage[]): number {
    return this.loaded().countPromptTokens(messages);
  }

  stream(request: EngineRequest, options?: { signal?: AbortSignal }): AsyncGenerator<EnginePart> {
    return this.loaded().stream(request, options);
  }

  embed(texts: string[], options?: { signal?: AbortSignal }): Promise<EmbeddingResult> {
    try {
      const engine = this.loaded();
      if (!engine.embed) throw new ClawError("bad_request", `The ${engine.info.engine} engine cannot compute embeddings.`);
      return engine.embed(texts, options);
    } catch (error) {
      return Promise.reject(error);
    }
  }

  decodeStats(): DecodeStats | undefined {
    return this.engine?.decodeStats?.();
  }

  async close(): Promise<void> {
    await this.engine?.close();
  }

  private loaded(): LanguageModel {
    if (!this.engine) throw new ClawError("unavailable", "The model is still loading; retry when /readyz says ready.");
    return this.engine;
  }
}
