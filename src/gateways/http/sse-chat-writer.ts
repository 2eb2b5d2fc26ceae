// Writes pipeline stream parts as OpenAI chat.completion.chunk server-sent events, with backpressure on a client that does not read.
import type http from "node:http";
import type { StreamPart } from "../../core/types.js";
import type { Reply } from "../../pipeline/pipeline.js";
import { choiceLogprobs } from "./choice-logprobs.js";
import { openAiUsage } from "./http-io.js";
import { SseStream, type SseStreamOptions } from "./sse-stream.js";

export interface SseChatWriterOptions extends Omit<SseStreamOptions, "object" | "opening"> {
  includeUsageChunk: boolean;
}

export class SseChatWriter implements Reply {
  private readonly stream: SseStream;

  constructor(
    response: http.ServerResponse,
    private readonly options: SseChatWriterOptions,
  ) {
    const opening = [{ choices: [{ index: 0, delta: { role: "assistant", content: "" }, finish_reason: null }] }];
    this.stream = new SseStream(response, { ...options, object: "chat.completion.chunk", opening });
  }

  /** False when the client's unsent bytes are above max_buffered: the pipeline then waits for drained(). */
  write(part: StreamPart): boolean {
    if (this.stream.ended) return true;
    switch (part.type) {
      case "text-delta":
        return this.stream.send({ choices: [{ index: 0, delta: { content: part.text }, logprobs: choiceLogprobs(part.logprobs), finish_reason: null }] });
      case "finish": {
        const usage = openAiUsage(part.usage);
        this.stream.event({ choices: [{ index: 0, delta: {}, finish_reason: part.finishReason }], usage });
        if (this.options.includeUsageChunk) this.stream.event({ choices: [], usage });
        this.stream.finish();
        return true;
      }
      case "error":
        this.stream.fail(part.error);
        return true;
    }
  }

  drained(): Promise<void> {
    return this.stream.drained();
  }
}
