// Writes pipeline stream parts as OpenAI text_completion server-sent events (legacy completions), with backpressure.
import type http from "node:http";
import { SseAnswerWriter, type SseAnswerWriterOptions } from "./sse-answer-writer.js";

export interface SseCompletionWriterOptions extends SseAnswerWriterOptions {
  /** Text sent as the first chunk, before the answer (the prompt, for `echo`). */
  prefix?: string;
}

export class SseCompletionWriter extends SseAnswerWriter {
  constructor(response: http.ServerResponse, options: SseCompletionWriterOptions) {
    super(response, options, {
      object: "text_completion",
      opening: options.prefix ? [choice(options.prefix, null)] : [],
      delta: (part) => choice(part.text, null),
      end: (finishReason) => choice("", finishReason),
    });
  }
}

function choice(text: string, finishReason: string | null): Record<string, unknown> {
  return { choices: [{ text, index: 0, logprobs: null, finish_reason: finishReason }] };
}
