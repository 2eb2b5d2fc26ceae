// A deterministic engine without a model: streams back the prompt it would have sent, word by word.
import { setImmediate as nextTurn } from "node:timers/promises";
import { ClawError } from "../../core/errors.js";
import type { ChatMessage, FinishReason } from "../../core/types.js";
import { AdmissionQueue } from "../admission-queue.js";
import type { EngineInfo, EngineLoad, EnginePart, EngineRequest, LanguageModel } from "../language-model.js";
import { renderPlainPrompt } from "../plain-prompt.js";
import { StopMatcher } from "../stop-matcher.js";

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

export class EchoEngine implements LanguageModel {
  readonly info: EngineInfo;
  private readonly queue: AdmissionQueue;

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
    };
  }

  load(): EngineLoad {
    return { active: this.queue.active, queued: this.queue.queued };
  }

  countPromptTokens(messages: ChatMessage[]): number {
    return splitEchoTokens(renderPlainPrompt(messages)).length + 1;
  }

  async *stream(request: EngineRequest, options: { signal?: AbortSignal } = {}): AsyncGenerator<EnginePart> {
    const startedAt = performance.now();
    const prompt = renderPlainPrompt(request.messages);
    const tokens = splitEchoTokens(prompt);
    const promptTokens = tokens.length + 1;
    if (promptTokens >= this.info.contextSize) {
      throw new ClawError("context_length_exceeded", `The prompt is ${promptTokens} tokens; the context holds ${this.info.contextSize}.`);
    }
    const lease = await this.queue.acquire(options.signal, { owner: request.owner });
    const admittedAt = performance.now();
    let firstTokenAt: number | undefined;
    let text = "";
    let finishReason: FinishReason = "stop";
    let completionTokens = 0;
    const maxTokens = Math.min(request.params.maxTokens, this.info.contextSize - promptTokens);
    try {
      const matcher = new StopMatcher(request.params.stop ?? []);
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
        firstTokenAt ??= performance.now();
        const { text: released, stopped } = matcher.push(token);
        if (released) {
          text += released;
          yield { type: "text-delta", text: released };
        }
        if (stopped) break;
        await nextTurn();
      }
      const rest = matcher.flush();
      if (rest) {
        text += rest;
        yield { type: "text-delta", text: rest };
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
      lease.release();
    }
  }

  async close(): Promise<void> {
    this.queue.close(new ClawError("unavailable", "The engine is shutting down."));
  }
}
