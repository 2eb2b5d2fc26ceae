// The llama.cpp engine: one model (mmap), one context with `parallel` sequences batched together, a bounded queue.
import path from "node:path";
import type { Llama, LlamaContext, LlamaContextSequence, LlamaModel } from "node-llama-cpp";
import { ClawError } from "../../core/errors.js";
import type { ChatMessage, FinishReason, ToolDefinition } from "../../core/types.js";
import type { Logger } from "../../logging/logger.js";
import { AdmissionQueue } from "../admission-queue.js";
import { callableTools, toolCallOpen, toolCallSchema } from "../tool-prompt.js";
import type { DecodeBatch, DecodeStats, EmbeddingResult, EngineInfo, EngineLoad, EnginePart, EngineRequest, LanguageModel, VramUsage } from "../language-model.js";
import { BatchBarrier, dispatchAfterMicrotasks } from "./batch-barrier.js";
import { queuedSequenceLookup } from "./queued-sequence-lookup.js";
import { BatchCounter } from "./batch-counter.js";
import { canShiftCache } from "./cache-alignment.js";
import { GenerationGate } from "./generation-gate.js";
import { toGrammarSchema } from "./json-schema-subset.js";
import { LlamaEmbedder } from "./llama-embedder.js";
import { withLlamaReason } from "./llama-error-log.js";
import { assertGgufFile } from "./gguf-file-check.js";
import { type Acceleration, describeAcceleration, flashAttentionFor, type GpuLayersSetting, type GpuSetting, llamaBuild, startLlama } from "./llama-backend.js";
import { type AppliedAdapter, checkRequestedAdapter, contextLoraOption, type LoraAdapter, resolveAdapters } from "./lora-adapters.js";
import { LogprobCollector } from "./logprob-collector.js";
import { PromptRenderer } from "./prompt-renderer.js";
import { ResponseGrammars } from "./response-grammars.js";
import { SequenceChooser } from "./sequence-chooser.js";
import { generateOnSequence } from "./sequence-generation.js";
import { generateToolCall } from "./tool-call-generation.js";
import { modelFingerprint, SequenceStateStore } from "./sequence-state-store.js";
import { TokenPieces } from "./token-pieces.js";
import { WatermarkBias, type WatermarkSettings } from "./watermark-bias.js";

export interface LlamaEngineOptions {
  modelPath: string;
  contextSize?: number;
  parallel: number;
  threads: number;
  maxQueue: number;
  /** Compute backend: `auto` (a GPU when one works, else CPU), false (CPU), or a named backend that must work. */
  gpu: GpuSetting;
  /** Layers offloaded to the GPU: `auto` (as many as fit, the default), `max`, or a count. */
  gpuLayers?: GpuLayersSetting;
  /** LoRA adapters applied to every request (scale 0 loads one without effect). */
  lora?: readonly LoraAdapter[];
  /** Reuse evaluated prompt prefixes across requests (default true); false evaluates every prompt from scratch. */
  contextReuse?: boolean;
  /** llama.cpp flash attention: "auto" (default) lets llama.cpp decide. */
  flashAttention?: "auto" | boolean;
  /** Save the conversations' evaluated states here at shutdown and load them when a conversation resumes. */
  savedStates?: { directory: string; maxBytes: number };
  logger: Logger;
  /** Called with 0..1 while the model file loads. */
  onLoadProgress?: (fraction: number) => void;
  /** Green-list watermarking: the key and strength, and whether answers are watermarked when a request does not say. */
  watermark?: WatermarkSettings & { enabled: boolean };
}

const defaultContextCeiling = 4096;
/**
 * How long a freed sequence waits for its conversation's next turn while other requests queue: about the time a client
 * takes to read an answer and send the next turn over a local network; far less than reading a long history again.
 */
const returnHoldMs = 20;

export async function createLlamaEngine(options: LlamaEngineOptions): Promise<LanguageModel> {
  assertGgufFile(options.modelPath, "Model file");
  const adapters = resolveAdapters(options.lora ?? []);
  const { llama, errors } = await startLlama(options.gpu, options.logger);
  let model: LlamaModel;
  let mark = errors.mark();
  try {
    model = await llama.loadModel({
      modelPath: options.modelPath,
      gpuLayers: options.gpuLayers ?? "auto",
      onLoadProgress: options.onLoadProgress,
    });
  } catch (error) {
    const reason = withLlamaReason(error, await errors.since(mark));
    await llama.dispose();
    throw new Error(`Cannot load model ${options.modelPath}: ${reason}`, { cause: error });
  }
  const trainContext = model.trainContextSize;
  const contextSize = options.contextSize ?? Math.min(trainContext, defaultContextCeiling);
  let context: LlamaContext;
  const batchCounter = new BatchCounter();
  mark = errors.mark();
  try {
    context = await model.createContext({
      contextSize,
      sequences: options.parallel,
      threads: options.threads,
      flashAttention: flashAttentionFor(options.flashAttention ?? "auto", llama.gpu),
      lora: contextLoraOption(adapters),
      batching: { dispatchSchedule: dispatchAfterMicrotasks, itemPrioritizationStrategy: batchCounter.strategy },
    });
  } catch (error) {
    const reason = withLlamaReason(error, await errors.since(mark));
    await model.dispose();
    await llama.dispose();
    const what = adapters.length > 0 ? ` with LoRA adapters ${adapters.map((adapter) => adapter.path).join(", ")}` : "";
    throw new Error(`Cannot create the model's context${what}: ${reason}`, { cause: error });
  }
  batchCounter.orderBy(queuedSequenceLookup(context));
  const sequences = Array.from({ length: options.parallel }, () => context.getSequence());
  const acceleration = await describeAcceleration(llama, model);
  const stateStore = options.savedStates
    ? new SequenceStateStore(
        options.savedStates.directory,
        options.savedStates.maxBytes,
        modelFingerprint(options.modelPath, context.contextSize, adapters, await llamaBuild(llama)),
      )
    : undefined;
  return new LlamaEngine(llama, model, context, sequences, adapters, acceleration, stateStore, batchCounter, options);
}

class LlamaEngine implements LanguageModel {
  readonly info: EngineInfo;
  private readonly queue: AdmissionQueue;
  private readonly renderer: PromptRenderer;
  private readonly gate = new GenerationGate();
  private readonly barrier = new BatchBarrier();
  private readonly contextReuse: boolean;
  /** Whether trimmed history may be erased from the middle of a sequence's state, later tokens shifted down. */
  private readonly shift: boolean;
  private readonly chooser: SequenceChooser;
  /** Grammars for response_format JSON answers, kept per schema. */
  private readonly grammars: ResponseGrammars;
  /** Token texts and bytes for logprobs, made on the first request that asks for them. */
  private pieces: TokenPieces | undefined;
  /** Embeddings through a second context, created on first use (undefined for encoder-decoder models, which cannot embed). */
  private readonly embedder: LlamaEmbedder | undefined;
  /** The per-step token bias of watermarked answers; undefined without a watermark key. */
  private readonly watermark: WatermarkBias | undefined;

  constructor(
    private readonly llama: Llama,
    private readonly model: LlamaModel,
    private readonly context: LlamaContext,
    private readonly sequences: LlamaContextSequence[],
    private readonly adapters: AppliedAdapter[],
    acceleration: Acceleration,
    private readonly stateStore: SequenceStateStore | undefined,
    private readonly batchCounter: BatchCounter,
    private readonly options: LlamaEngineOptions,
  ) {
    this.renderer = new PromptRenderer(model);
    this.queue = new AdmissionQueue(sequences.length, options.maxQueue);
    this.contextReuse = options.contextReuse ?? true;
    this.shift = canShiftCache(model);
    this.chooser = new SequenceChooser(sequences, this.contextReuse, this.shift);
    this.grammars = new ResponseGrammars(llama, model);
    this.watermark = options.watermark ? new WatermarkBias(model, options.watermark) : undefined;
    const insights = model.fileInsights;
    this.embedder =
      insights.hasEncoder && insights.hasDecoder
        ? undefined
        : new LlamaEmbedder(model, {
            contextSize: Math.min(context.contextSize, model.trainContextSize),
            threads: options.threads,
            concurrent: sequences.length,
            maxQueue: options.maxQueue,
            logger: options.logger,
          });
    this.info = {
      engine: "llama",
      model: path.basename(options.modelPath).replace(/\.gguf$/i, ""),
      contextSize: context.contextSize,
      parallel: sequences.length,
      maxQueue: options.maxQueue,
      threads: options.threads,
      chatTemplate: this.renderer.usesChatTemplate,
      ...acceleration,
      adapters: adapters.map(({ name, scale }) => ({ name, scale })),
      embeddingDimensions: this.embedder?.dimensions,
    };
  }

  load(): EngineLoad {
    return { active: this.queue.active, queued: this.queue.queued };
  }

  decodeStats(): DecodeStats {
    return { ...this.batchCounter.stats };
  }

  /** Each sequence has its own `contextSize` cells; the tokens evaluated into them (kept states included) fill them. */
  contextUsage(): number {
    let used = 0;
    for (const sequence of this.sequences) used += sequence.nextTokenIndex;
    return used / (this.info.contextSize * this.sequences.length);
  }

  onDecode(listener: (batch: DecodeBatch) => void): () => void {
    return this.batchCounter.onBatch(listener);
  }

  async vram(): Promise<VramUsage | undefined> {
    if (!this.llama.gpu) return undefined;
    const state = await this.llama.getVramState();
    return { usedBytes: state.used, totalBytes: state.total };
  }

  countPromptTokens(messages: ChatMessage[], tools?: ToolDefinition[]): number {
    return this.renderer.count(messages, tools);
  }

  async *stream(request: EngineRequest, options: { signal?: AbortSignal } = {}): AsyncGenerator<EnginePart> {
    const startedAt = performance.now();
    checkRequestedAdapter(request.params.adapter, this.adapters);
    const tools = request.prompt === undefined ? request.tools : undefined;
    const prompt = request.prompt !== undefined ? this.renderer.renderRaw(request.prompt) : this.renderer.render(request.messages, tools?.definitions);
    /** The tools this generation may call; with `required` or a named tool, the generation is one call and nothing else. */
    const callable = tools ? callableTools(tools.definitions, tools.choice) : [];
    if (tools && typeof tools.choice === "object" && callable.length === 0) {
      throw new ClawError("bad_request", `tool_choice names "${tools.choice.name}", which is not one of the tools offered.`, { param: "tool_choice" });
    }
    const forcedCall = callable.length > 0 && tools?.choice !== "auto";
    const promptTokens = prompt.tokens.length;
    if (promptTokens >= this.info.contextSize) {
      throw new ClawError(
        "context_length_exceeded",
        `The prompt is ${promptTokens} tokens; the context holds ${this.info.contextSize} (including room for at least one new token).`,
      );
    }
    // Before queueing: a schema the grammar cannot enforce is refused at once.
    const grammar = request.params.responseFormat && !forcedCall ? await this.grammars.evaluationState(request.params.responseFormat) : undefined;
    const callFormat = { type: "json_schema" as const, schema: toolCallSchema(callable) };
    // Checked (and its grammar built and kept) before queueing too: a tool schema the grammar cannot enforce is refused
    // at once, naming the tool.
    if (callable.length > 0 && tools?.constrained) {
      for (const tool of callable) toGrammarSchema(tool.parameters, `tools.${tool.name}.parameters`, { validatedAfter: true });
      await this.grammars.evaluationState(callFormat, "tools");
    }
    const logprobs = request.params.logprobs ? new LogprobCollector((this.pieces ??= new TokenPieces(this.model)), request.params.logprobs.top) : undefined;
    const watermark = this.watermarkFor(request.params.watermark);
    const lease = await this.queue.acquire(options.signal, {
      choose: (free) => this.chooser.choose(free, prompt.tokens, request.conversation),
      owner: request.owner,
      score: (slot) => this.chooser.score(slot, prompt.tokens, request.conversation),
      key: request.conversation,
    });
    const sequence = this.sequences[lease.slot] as LlamaContextSequence;
    // Whether the sequence holds this conversation's own earlier state (served it last, or its saved state was loaded).
    let ownState = this.chooser.serves(lease.slot, request.conversation);
    if (request.conversation !== undefined && !ownState) {
      ownState = await this.restoreSavedState(request.conversation, sequence).catch((error: unknown) => {
        lease.release();
        throw error;
      });
    }
    this.chooser.assign(lease.slot, request.conversation);
    const admittedAt = performance.now();
    // Our own signal, so a consumer that stops reading (client gone) also stops the decode before the slot is reused.
    const abort = new AbortController();
    const forwardAbort = () => abort.abort();
    options.signal?.addEventListener("abort", forwardAbort, { once: true });
    let firstTokenAt: number | undefined;
    let text = "";
    let generation: ReturnType<typeof generateOnSequence> | undefined;
    try {
      const room = (tokens: number) => this.info.contextSize - tokens;
      let finishReason: FinishReason = "stop";
      let completionTokens = 0;
      let reusedPromptTokens = 0;
      let calling = forcedCall;
      let reportedPromptTokens = promptTokens;
      if (!forcedCall) {
        generation = generateOnSequence({
          model: this.model,
          sequence,
          gate: this.gate,
          barrier: this.barrier,
          promptTokens: prompt.tokens,
          reuse: this.contextReuse,
          // Only within a conversation: the kept tokens' cache still carries what the dropped ones said.
          shift: this.shift && ownState,
          params: request.params,
          maxTokens: Math.min(request.params.maxTokens, room(promptTokens)),
          // With tools, the call marker ends the free text; the call itself is then generated below.
          stopStrings: [...prompt.stopStrings, ...(request.params.stop ?? []), ...(callable.length > 0 ? [toolCallOpen] : [])],
          stopTokens: prompt.stopTokens,
          signal: abort.signal,
          onFirstToken: () => (firstTokenAt = performance.now()),
          grammar,
          logprobs,
          watermark,
        });
        let step = await generation.next();
        for (; !step.done; step = await generation.next()) {
          text += step.value;
          // The logprobs of the tokens whose text this delta completes (a stop string's tokens are never reported).
          yield logprobs ? { type: "text-delta", text: step.value, logprobs: logprobs.take() } : { type: "text-delta", text: step.value };
        }
        ({ finishReason, completionTokens, reusedPromptTokens } = step.value);
        calling = callable.length > 0 && step.value.stopString === toolCallOpen;
      }
      if (calling && tools) {
        const generated = await generateToolCall({
          model: this.model,
          sequence,
          gate: this.gate,
          barrier: this.barrier,
          promptTokens: prompt.tokens,
          text,
          contextSize: this.info.contextSize,
          params: request.params,
          grammar: tools.constrained ? await this.grammars.evaluationState(callFormat, "tools") : undefined,
          stopTokens: prompt.stopTokens,
          signal: abort.signal,
          onFirstToken: () => (firstTokenAt ??= performance.now()),
        });
        completionTokens += generated.outcome.completionTokens;
        // A forced call's prompt is the rendered one and the call marker.
        if (forcedCall) {
          reusedPromptTokens = generated.outcome.reusedPromptTokens;
          reportedPromptTokens = generated.promptTokens;
        }
        finishReason = generated.call ? "tool_calls" : "cancelled";
        // A call that cannot be read still goes to the pipeline, which answers it with an error and never runs it.
        if (generated.call) yield { type: "tool-call", call: generated.call };
      }
      const finishedAt = performance.now();
      yield {
        type: "finish",
        text,
        finishReason,
        usage: { promptTokens: reportedPromptTokens, completionTokens, cachedPromptTokens: reusedPromptTokens },
        timings: { queueMs: admittedAt - startedAt, ttftMs: (firstTokenAt ?? finishedAt) - startedAt, totalMs: finishedAt - startedAt },
      };
    } catch (error) {
      if (error instanceof ClawError) throw error;
      throw new ClawError("internal", `Generation failed: ${(error as Error).message}`, { cause: error });
    } finally {
      options.signal?.removeEventListener("abort", forwardAbort);
      // A consumer that stops reading early (a plugin failed mid-stream, the client left) leaves the inner generation
      // suspended at its last token: stop it and close it now, so its evaluation ends and node-llama-cpp disposes the
      // sampler at once instead of at garbage collection, before the sequence goes back to the pool.
      abort.abort();
      await generation?.return(undefined as never).catch((error: unknown) => this.options.logger.warn({ err: error }, "closing a generation failed"));
      // Kept briefly for this conversation's next turn when others wait (it would otherwise read its history again);
      // not after a cancel (the client is gone or changed its mind).
      const returning = request.conversation !== undefined && this.contextReuse && !options.signal?.aborted;
      lease.release(returning ? { key: request.conversation as string, ms: returnHoldMs } : undefined);
    }
  }

  embed(texts: string[], options: { signal?: AbortSignal } = {}): Promise<EmbeddingResult> {
    if (!this.embedder) return Promise.reject(new ClawError("bad_request", "This model (encoder-decoder) cannot compute embeddings."));
    return this.embedder.embed(texts, options);
  }

  /** The bias for this request: asked for (or, unsaid, `watermark.enabled`); refused when asked for without a key. */
  private watermarkFor(asked: boolean | undefined): WatermarkBias | undefined {
    if (!(asked ?? this.options.watermark?.enabled ?? false)) return undefined;
    if (!this.watermark) throw new ClawError("internal", "This answer must be watermarked, but watermark.key is not configured.");
    return this.watermark;
  }

  /** Loads a conversation's state saved at the last shutdown into the sequence it was given (once); true when loaded. */
  private async restoreSavedState(conversation: string, sequence: LlamaContextSequence): Promise<boolean> {
    const file = this.stateStore?.find(conversation);
    if (!file) return false;
    try {
      await this.gate.prepare(() => sequence.loadStateFromFile(file, { acceptRisk: true }));
      return true;
    } catch (error) {
      this.options.logger.warn({ err: error, file }, "could not load a saved conversation state; evaluating the conversation again");
      await this.gate.prepare(() => sequence.clearHistory());
      return false;
    } finally {
      this.stateStore?.remove(conversation);
    }
  }

  /** Saves the state of every conversation a sequence holds, within the disk budget. */
  private async saveStates(): Promise<void> {
    if (!this.stateStore) return;
    for (const [slot, conversation] of this.chooser.conversations.entries()) {
      if (conversation === undefined) continue;
      try {
        await this.stateStore.save(conversation, this.sequences[slot] as LlamaContextSequence);
      } catch (error) {
        this.options.logger.warn({ err: error }, "could not save a conversation state");
      }
    }
  }

  async close(): Promise<void> {
    this.queue.close(new ClawError("unavailable", "The engine is shutting down."));
    await this.saveStates();
    await this.embedder?.close();
    await this.context.dispose();
    await this.model.dispose();
    await this.llama.dispose();
  }
}
