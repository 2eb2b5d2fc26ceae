// A deterministic engine without a model: streams back the prompt it would have sent, word by word.
import { setImmediate as nextTurn } from "node:timers/promises";
import { ClawError } from "../../core/errors.js";
import type { ChatMessage, FinishReason, TokenLogprob, ToolDefinition } from "../../core/types.js";
import { AdmissionQueue } from "../admission-queue.js";
import { checkEmbeddingInputs } from "../embedding-vector.js";
import type { EmbeddingResult, EngineInfo, EngineLoad, EnginePart, EngineRequest, LanguageModel } from "../language-model.js";
import { renderPlainPrompt } from "../plain-prompt.js";
import { StopMatcher } from "../stop-matcher.js";
import { toTextMessages } from "../tool-prompt.js";
import { echoToolCall } from "./echo-tool-call.js";
import { echoEmbedding, echoEmbeddingDimensions } from "./echo-embedding.js";

export interface EchoEngineOptions {
  contextSize?: number;
  parallel: number;
  maxQueue: number;
}

/** Echo "tokens": a word with its trailing whitespace, or a run of leading whitespace. */
const tokenPattern = /\s+|\S+\s*/g;

export function splitEchoTokens(text: string): string[] {
  return text.match(tokenPattern) ?? [];
}

/** An echoed word's logprob: certain (0), with itself as the only alternative when any are asked for. */
function certainToken(token: string, top: number): TokenLogprob {
  const bytes = [...Buffer.from(token, "utf8")];
  return { token, logprob: 0, bytes, top: top > 0 ? [{ token, logprob: 0, bytes }] : [] };
}

export class EchoEngine implements LanguageModel {
  readonly info: EngineInfo;
  private readonly queue: AdmissionQueue;
  /** "Tokens" the running requests hold (prompt and generated so far), as a KV cache would. */
  private cellsInUse = 0;

  constructor(options: EchoEngineOptions) {
    this.queue = new AdmissionQueue(options.parallel, options.maxQueue);
    this.info = {
      engine: "echo",
      model: "echo",
      contextSize: options.contextSize ?? 4096,
      parallel: options.parallel,
      maxQueue: options.maxQueue,
      threads: 0,
      chatTemplate: false,
      backend: "none",
      embeddingDimensions: echoEmbeddingDimensions,
    };
  }

  load(): EngineLoad {
    return { active: this.queue.active, queued: this.queue.queued };
  }

  /** The running requests' prompt and generated tokens over `parallel` contexts (echo keeps nothing after a request). */
  contextUsage(): number {
    return this.cellsInUse / (this.info.contextSize * this.info.parallel);
  }

  countPromptTokens(messages: ChatMessage[], tools?: ToolDefinition[]): number {
    return splitEchoTokens(renderPlainPrompt(toTextMessages(messages, tools))).length + 1;
  }

  async *stream(request: EngineRequest, options: { signal?: AbortSignal } = {}): AsyncGenerator<EnginePart> {
    const startedAt = performance.now();
    const { responseFormat, logprobs: logprobsAsked } = request.params;
    if (responseFormat && responseFormat.type !== "text") {
      // Echoing the prompt cannot honour a JSON shape; saying so beats an answer that does not parse.
      throw new ClawError("bad_request", `The echo engine cannot constrain its answer to JSON: response_format "${responseFormat.type}" needs the llama engine.`, {
        param: "response_format",
      });
    }
    // A raw prompt (legacy completions) is echoed as it is.
    const tools = request.prompt === undefined ? request.tools : undefined;
    const prompt = request.prompt ?? renderPlainPrompt(toTextMessages(request.messages, tools?.definitions));
    const tokens = splitEchoTokens(prompt);
    const promptTokens = tokens.length + 1;
    if (promptTokens >= this.info.contextSize) {
      throw new ClawError("context_length_exceeded", `The prompt is ${promptTokens} tokens; the context holds ${this.info.contextSize}.`);
    }
    const lease = await this.queue.acquire(options.signal, { owner: request.owner });
    const admittedAt = performance.now();
    let cells = promptTokens;
    this.cellsInUse += cells;
    let firstTokenAt: number | undefined;
    let text = "";
    let finishReason: FinishReason = "stop";
    let completionTokens = 0;
    const maxTokens = Math.min(request.params.maxTokens, this.info.contextSize - promptTokens);
    try {
      const call = tools ? echoToolCall(request.messages, tools) : undefined;
      if (call) {
        yield { type: "tool-call", call };
        const finishedAt = performance.now();
        yield {
          type: "finish",
          text: "",
          finishReason: "tool_calls",
          usage: { promptTokens, completionTokens: 1 },
          timings: { queueMs: admittedAt - startedAt, ttftMs: finishedAt - startedAt, totalMs: finishedAt - startedAt },
        };
        return;
      }
      const matcher = new StopMatcher(request.params.stop ?? []);
      // Echoed words are certain: each one's logprob is 0 and it is its own only alternative.
      let pending: TokenLogprob[] | undefined = logprobsAsked ? [] : undefined;
      const takeLogprobs = (): { logprobs?: TokenLogprob[] } => {
        if (!pending || pending.length === 0) return {};
        const logprobs = pending;
        pending = [];
        return { logprobs };
      };
      for (const token of tokens) {
        if (options.signal?.aborted) {
          finishReason = "cancelled";
          break;
        }
        if (completionTokens >= maxTokens) {
          finishReason = "length";
          break;
        }
        completionTokens += 1;
        cells += 1;
        this.cellsInUse += 1;
        firstTokenAt ??= performance.now();
        const { text: released, stopped } = matcher.push(token);
        if (pending) pending.push(certainToken(token, logprobsAsked?.top ?? 0));
        if (released) {
          text += released;
          yield { type: "text-delta", text: released, ...takeLogprobs() };
        }
        if (stopped) break;
        await nextTurn();
      }
      const rest = matcher.flush();
      if (rest) {
        text += rest;
        yield { type: "text-delta", text: rest, ...takeLogprobs() };
      }
      const finishedAt = performance.now();
      yield {
        type: "finish",
        text,
        finishReason,
        usage: { promptTokens, completionTokens },
        timings: { queueMs: admittedAt - startedAt, ttftMs: (firstTokenAt ?? finishedAt) - startedAt, totalMs: finishedAt - startedAt },
      };
    } finally {
      this.cellsInUse -= cells;
      lease.release();
    }
  }

  /** Hashed bags of words (see echoEmbedding): deterministic, not semantic. Counted like prompts, one token per word. */
  async embed(texts: string[], options: { signal?: AbortSignal } = {}): Promise<EmbeddingResult> {
    const tokens = checkEmbeddingInputs(texts, this.info.contextSize, (text) => splitEchoTokens(text).length + 1);
    if (options.signal?.aborted) throw new ClawError("cancelled", "The embedding request was cancelled.");
    return { vectors: texts.map(echoEmbedding), promptTokens: tokens.reduce((sum, count) => sum + count, 0) };
  }

  async close(): Promise<void> {
    this.queue.close(new ClawError("unavailable", "The engine is shutting down."));
  }
}
