// Writes pipeline stream parts as OpenAI text_completion server-sent events (legacy completions), with backpressure.
import type http from "node:http";
import type { StreamPart } from "../../core/types.js";
import type { Reply } from "../../pipeline/pipeline.js";
import { Backpressure } from "../backpressure.js";
import { openAiError, openAiUsage, sendError } from "./http-io.js";

export interface SseCompletionWriterOptions {
  id: string;
  model: string;
  includeUsageChunk: boolean;
  /** Text sent as the first chunk, before the answer (the prompt, for `echo`). */
  prefix?: string;
  /** Bytes the response may hold unsent before write() asks the pipeline to wait (`max_buffered`). */
  maxBuffered: number;
  /** How long the client may stay above maxBuffered before the request fails with slow_client; also how long the end may wait to be read. */
  slowClientTimeoutMs: number;
  /** The request's cancellation (client gone): ends a wait at once. */
  signal?: AbortSignal;
}

export class SseCompletionWriter implements Reply {
  private started = false;
  private readonly created = Math.floor(Date.now() / 1000);
  private readonly backpressure: Backpressure;

  constructor(
    private readonly response: http.ServerResponse,
    private readonly options: SseCompletionWriterOptions,
  ) {
    this.backpressure = new Backpressure({
      buffered: () => response.writableLength,
      maxBuffered: options.maxBuffered,
      timeoutMs: options.slowClientTimeoutMs,
      signal: options.signal,
    });
  }

  /** False when the client's unsent bytes are above max_buffered: the pipeline then waits for drained(). */
  write(part: StreamPart): boolean {
    if (this.response.writableEnded) return true;
    switch (part.type) {
      case "text-delta":
        this.start();
        this.chunk(part.text, null);
        return !this.backpressure.full;
      case "finish": {
        this.start();
        const usage = openAiUsage(part.usage);
        this.chunk("", part.finishReason, { usage });
        if (this.options.includeUsageChunk) this.event({ choices: [], usage });
        this.end("data: [DONE]\n\n");
        return true;
      }
      case "error":
        // Before the first byte the error gets its own HTTP status; after it, an error event ends the stream.
        if (!this.started) sendError(this.response, part.error);
        else this.end(`data: ${JSON.stringify(openAiError(part.error))}\n\n`);
        return true;
    }
  }

  drained(): Promise<void> {
    return this.backpressure.drained();
  }

  private start(): void {
    if (this.started) return;
    this.started = true;
    this.response.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache", connection: "keep-alive" });
    this.response.flushHeaders();
    if (this.options.prefix) this.chunk(this.options.prefix, null);
  }

  private chunk(text: string, finishReason: string | null, fields: Record<string, unknown> = {}): void {
    this.event({ choices: [{ text, index: 0, logprobs: null, finish_reason: finishReason }], ...fields });
  }

  private event(fields: Record<string, unknown>): void {
    const payload = { id: this.options.id, object: "text_completion", created: this.created, model: this.options.model, ...fields };
    this.response.write(`data: ${JSON.stringify(payload)}\n\n`);
  }

  /** Ends the stream; a client that still does not read its end within the timeout loses the connection (its buffer is freed). */
  private end(last: string): void {
    this.response.end(last);
    if (this.response.writableFinished) return;
    const timer = setTimeout(() => this.response.destroy(), this.options.slowClientTimeoutMs);
    timer.unref();
    this.response.once("finish", () => clearTimeout(timer));
    this.response.once("close", () => clearTimeout(timer));
  }
}
