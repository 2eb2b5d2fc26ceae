// Writes pipeline stream parts as OpenAI chat.completion.chunk server-sent events.
import type http from "node:http";
import type { StreamPart } from "../../core/types.js";
import type { Reply } from "../../pipeline/pipeline.js";
import { openAiError, openAiUsage, sendError } from "./http-io.js";

export class SseChatWriter implements Reply {
  private started = false;
  private readonly created = Math.floor(Date.now() / 1000);

  constructor(
    private readonly response: http.ServerResponse,
    private readonly options: { id: string; model: string; includeUsageChunk: boolean },
  ) {}

  write(part: StreamPart): void {
    if (this.response.writableEnded) return;
    switch (part.type) {
      case "text-delta":
        this.start();
        this.chunk({ choices: [{ index: 0, delta: { content: part.text }, finish_reason: null }] });
        return;
      case "finish": {
        this.start();
        const usage = openAiUsage(part.usage);
        this.chunk({ choices: [{ index: 0, delta: {}, finish_reason: part.finishReason }], usage });
        if (this.options.includeUsageChunk) this.chunk({ choices: [], usage });
        this.response.end("data: [DONE]\n\n");
        return;
      }
      case "error":
        // Before the first byte the error gets its own HTTP status; after it, an error event ends the stream.
        if (!this.started) return sendError(this.response, part.error);
        this.response.end(`data: ${JSON.stringify(openAiError(part.error))}\n\n`);
        return;
    }
  }

  private start(): void {
    if (this.started) return;
    this.started = true;
    this.response.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache", connection: "keep-alive" });
    this.response.flushHeaders();
    this.chunk({ choices: [{ index: 0, delta: { role: "assistant", content: "" }, finish_reason: null }] });
  }

  private chunk(fields: Record<string, unknown>): void {
    const payload = { id: this.options.id, object: "chat.completion.chunk", created: this.created, model: this.options.model, ...fields };
    this.response.write(`data: ${JSON.stringify(payload)}\n\n`);
  }
}
