// Stands in for the engine while the model loads, so gateways can listen (and /readyz say 503) before it is ready.
import { ClawError } from "../core/errors.js";
import type { ChatMessage, ToolDefinition } from "../core/types.js";
import type { DecodeBatch, DecodeStats, EmbeddingResult, EngineInfo, EngineLoad, EnginePart, EngineRequest, LanguageModel, VramUsage } from "./language-model.js";

export class DeferredEngine implements LanguageModel {
  private engine: LanguageModel | undefined;
  /** Decode listeners subscribed before the model loaded: they move to the engine when it resolves. */
  private readonly decodeListeners = new Map<(batch: DecodeBatch) => void, (() => void) | undefined>();

  constructor(private readonly placeholder: EngineInfo) {}

  get ready(): boolean {
    return this.engine !== undefined;
  }

  get info(): EngineInfo {
    return this.engine?.info ?? this.placeholder;
  }

  resolve(engine: LanguageModel): void {
    this.engine = engine;
    for (const listener of this.decodeListeners.keys()) this.decodeListeners.set(listener, engine.onDecode?.(listener));
  }

  load(): EngineLoad {
    return this.engine?.load() ?? { active: 0, queued: 0 };
  }

  countPromptTokens(messages: ChatMessage[], tools?: ToolDefinition[]): number {
    return this.loaded().countPromptTokens(messages, tools);
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

  contextUsage(): number {
    return this.engine?.contextUsage?.() ?? 0;
  }

  onDecode(listener: (batch: DecodeBatch) => void): () => void {
    this.decodeListeners.set(listener, this.engine?.onDecode?.(listener));
    return () => {
      this.decodeListeners.get(listener)?.();
      this.decodeListeners.delete(listener);
    };
  }

  async vram(): Promise<VramUsage | undefined> {
    return this.engine?.vram?.();
  }

  async close(): Promise<void> {
    await this.engine?.close();
  }

  private loaded(): LanguageModel {
    if (!this.engine) throw new ClawError("unavailable", "The model is still loading; retry when /readyz says ready.");
    return this.engine;
  }
}
