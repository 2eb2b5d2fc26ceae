// Writes pipeline stream parts as OpenAI chat.completion.chunk server-sent events, with backpressure on a client that does not read.
import type http from "node:http";
import type { StreamPart } from "../../core/types.js";
import type { Reply } from "../../pipeline/pipeline.js";
import { Backpressure } from "../backpressure.js";
import { choiceLogprobs } from "./choice-logprobs.js";
import { openAiError, openAiUsage, sendError } from "./http-io.js";

export interface SseChatWriterOptions {
  id: string;
  model: string;
  includeUsageChunk: boolean;
  /** Bytes the response may hold unsent before write() asks the pipeline to wait (`max_buffered`). */
  maxBuffered: number;
  /** How long the client may stay above maxBuffered before the request fails with slow_client; also how long the end of an answer may wait to be read. */
  slowClientTimeoutMs: number;
  /** The request's cancellation (client gone): ends a wait at once. */
  signal?: AbortSignal;
}

export class SseChatWriter implements Reply {
  private started = false;
  private readonly created = Math.floor(Date.now() / 1000);
  private readonly backpressure: Backpressure;
  /** A write the socket took without passing its high-water mark is under the limit too: no length to sum per token. */
  private readonly trustWriteResult: boolean;

  constructor(
    private readonly response: http.ServerResponse,
    private readonly options: SseChatWriterOptions,
  ) {
    this.backpressure = new Backpressure({
      buffered: () => response.writableLength,
      maxBuffered: options.maxBuffered,
      timeoutMs: options.slowClientTimeoutMs,
      signal: options.signal,
    });
    this.trustWriteResult = options.maxBuffered >= response.writableHighWaterMark;
  }

  /** False when the client's unsent bytes are above max_buffered: the pipeline then waits for drained(). */
  write(part: StreamPart): boolean {
    if (this.response.writableEnded) return true;
    switch (part.type) {
      case "text-delta":
        this.start();
        if (this.chunk({ choices: [{ index: 0, delta: { content: part.text }, logprobs: choiceLogprobs(part.logprobs), finish_reason: null }] }) && this.trustWriteResult) {
          return true;
        }
        return !this.backpressure.full;
      case "finish": {
        this.start();
        const usage = openAiUsage(part.usage);
        this.chunk({ choices: [{ index: 0, delta: {}, finish_reason: part.finishReason }], usage });
        if (this.options.includeUsageChunk) this.chunk({ choices: [], usage });
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
    this.chunk({ choices: [{ index: 0, delta: { role: "assistant", content: "" }, finish_reason: null }] });
  }

  /** Writes one event; false when the response buffers it (the socket is above its high-water mark). */
  private chunk(fields: Record<string, unknown>): boolean {
    const payload = { id: this.options.id, object: "chat.completion.chunk", created: this.created, model: this.options.model, ...fields };
    return this.response.write(`data: ${JSON.stringify(payload)}\n\n`);
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
