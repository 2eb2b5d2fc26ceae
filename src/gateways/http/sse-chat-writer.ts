// Writes pipeline stream parts as OpenAI chat.completion.chunk server-sent events (text and tool-call deltas), with backpressure on a client that does not read.
import type http from "node:http";
import { choiceLogprobs } from "./choice-logprobs.js";
import { streamedToolCallDeltas } from "./openai-tools.js";
import { SseAnswerWriter, type SseAnswerWriterOptions } from "./sse-answer-writer.js";

export type SseChatWriterOptions = SseAnswerWriterOptions;

export class SseChatWriter extends SseAnswerWriter {
  constructor(response: http.ServerResponse, options: SseChatWriterOptions) {
    super(response, options, {
      object: "chat.completion.chunk",
      opening: [{ choices: [{ index: 0, delta: { role: "assistant", content: "" }, finish_reason: null }] }],
      delta: (part) => ({ choices: [{ index: 0, delta: { content: part.text }, logprobs: choiceLogprobs(part.logprobs), finish_reason: null }] }),
      end: (finishReason) => ({ choices: [{ index: 0, delta: {}, finish_reason: finishReason }] }),
      // Calls of the client's tools: OpenAI's tool_calls deltas, before the chunk with finish_reason "tool_calls".
      beforeEnd: (finish) => streamedToolCallDeltas(finish.toolCalls ?? []).map((delta) => ({ choices: [{ index: 0, delta, finish_reason: null }] })),
    });
  }
}
