// Writes pipeline stream parts as OpenAI text_completion server-sent events (legacy completions), with backpressure.
import type http from "node:http";
import type { StreamPart } from "../../core/types.js";
import type { Reply } from "../../pipeline/pipeline.js";
import { openAiUsage } from "./http-io.js";
import { SseStream, type SseStreamOptions } from "./sse-stream.js";

export interface SseCompletionWriterOptions extends Omit<SseStreamOptions, "object" | "opening"> {
  includeUsageChunk: boolean;
  /** Text sent as the first chunk, before the answer (the prompt, for `echo`). */
  prefix?: string;
}

export class SseCompletionWriter implements Reply {
  private readonly stream: SseStream;

  constructor(
    response: http.ServerResponse,
    private readonly options: SseCompletionWriterOptions,
  ) {
    const opening = options.prefix ? [choice(options.prefix, null)] : [];
    this.stream = new SseStream(response, { ...options, object: "text_completion", opening });
  }

  /** False when the client's unsent bytes are above max_buffered: the pipeline then waits for drained(). */
  write(part: StreamPart): boolean {
    if (this.stream.ended) return true;
    switch (part.type) {
      case "text-delta":
        return this.stream.send(choice(part.text, null));
      case "finish": {
        const usage = openAiUsage(part.usage);
        this.stream.event({ ...choice("", part.finishReason), usage });
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

function choice(text: string, finishReason: string | null): Record<string, unknown> {
  return { choices: [{ text, index: 0, logprobs: null, finish_reason: finishReason }] };
}
