// One OpenAI server-sent event stream on a response: headers on the first event, shared chunk fields, backpressure, [DONE], errors.
import type http from "node:http";
import type { ClawError } from "../../core/errors.js";
import { Backpressure } from "../backpressure.js";
import { openAiError, sendError } from "./http-io.js";

export interface SseStreamOptions {
  id: string;
  model: string;
  /** The chunks' `object`: "chat.completion.chunk" or "text_completion". */
  object: string;
  /** Bytes the response may hold unsent before `send()` asks the pipeline to wait (`max_buffered`). */
  maxBuffered: number;
  /** How long the client may stay above maxBuffered before the request fails with slow_client; also how long the end may wait to be read. */
  slowClientTimeoutMs: number;
  /** The request's cancellation (client gone): ends a wait at once. */
  signal?: AbortSignal;
  /** Events sent right after the headers, before the first one asked for (e.g. the assistant role, an echoed prompt). */
  opening?: Record<string, unknown>[];
}

export class SseStream {
  private started = false;
  private readonly created = Math.floor(Date.now() / 1000);
  private readonly backpressure: Backpressure;
  /** A write the socket took without passing its high-water mark is under the limit too: no length to sum per token. */
  private readonly trustWriteResult: boolean;

  constructor(
    private readonly response: http.ServerResponse,
    private readonly options: SseStreamOptions,
  ) {
    this.backpressure = new Backpressure({
      buffered: () => response.writableLength,
      maxBuffered: options.maxBuffered,
      timeoutMs: options.slowClientTimeoutMs,
      signal: options.signal,
    });
    this.trustWriteResult = options.maxBuffered >= response.writableHighWaterMark;
  }

  /** Whether the response has ended (nothing more is written). */
  get ended(): boolean {
    return this.response.writableEnded;
  }

  /** Writes one event; false when the client's unsent bytes are above max_buffered (the pipeline then waits for drained()). */
  send(fields: Record<string, unknown>): boolean {
    return (this.event(fields) && this.trustWriteResult) || !this.backpressure.full;
  }

  /** Writes one event with the stream's shared fields; false when the response buffers it (the socket is above its high-water mark). */
  event(fields: Record<string, unknown>): boolean {
    this.open();
    const payload = { id: this.options.id, object: this.options.object, created: this.created, model: this.options.model, ...fields };
    return this.response.write(`data: ${JSON.stringify(payload)}\n\n`);
  }

  /** Ends the stream after the answer. */
  finish(): void {
    this.open();
    this.end("data: [DONE]\n\n");
  }

  /** Before the first byte the error gets its own HTTP status; after it, an error event ends the stream. */
  fail(error: ClawError): void {
    if (!this.started) sendError(this.response, error);
    else this.end(`data: ${JSON.stringify(openAiError(error))}\n\n`);
  }

  drained(): Promise<void> {
    return this.backpressure.drained();
  }

  private open(): void {
    if (this.started) return;
    this.started = true;
    this.response.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache", connection: "keep-alive" });
    this.response.flushHeaders();
    for (const fields of this.options.opening ?? []) this.event(fields);
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
