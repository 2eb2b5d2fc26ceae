// Writes pipeline stream parts as one OpenAI event stream; the chunk shapes (chat or legacy completion) come from its subclass.
import type http from "node:http";
import type { FinishPart, FinishReason, StreamPart } from "../../core/types.js";
import type { Reply } from "../../pipeline/pipeline.js";
import { citationEntries } from "../knowledge-field.js";
import { openAiUsage } from "./http-io.js";
import { SseStream, type SseStreamOptions } from "./sse-stream.js";
import { ToolStepsField } from "./tool-steps-field.js";

export interface SseAnswerWriterOptions extends Omit<SseStreamOptions, "object" | "opening"> {
  includeUsageChunk: boolean;
}

/** What differs between the OpenAI streams: the chunk object, the opening chunks, and the choice of a delta or the end. */
export interface SseChunkShape {
  object: string;
  opening: Record<string, unknown>[];
  delta(part: Extract<StreamPart, { type: "text-delta" }>): Record<string, unknown>;
  end(finishReason: FinishReason): Record<string, unknown>;
  /** Chunks sent before the end (the chat stream's tool calls); none when absent. */
  beforeEnd?(finish: FinishPart): Record<string, unknown>[];
}

export class SseAnswerWriter implements Reply {
  private readonly stream: SseStream;
  private readonly toolSteps = new ToolStepsField();

  constructor(
    response: http.ServerResponse,
    private readonly options: SseAnswerWriterOptions,
    private readonly shape: SseChunkShape,
  ) {
    this.stream = new SseStream(response, { ...options, object: shape.object, opening: shape.opening });
  }

  /** False when the client's unsent bytes are above max_buffered: the pipeline then waits for drained(). */
  write(part: StreamPart): boolean {
    if (this.stream.ended) return true;
    switch (part.type) {
      case "text-delta":
        return this.stream.send(this.shape.delta(part));
      case "finish": {
        const usage = openAiUsage(part.usage);
        // Clawbot extension: the final chunk (the one with finish_reason) carries the knowledge-base sources, when any.
        const citations = part.citations && part.citations.length > 0 ? { citations: citationEntries(part.citations) } : {};
        for (const fields of this.shape.beforeEnd?.(part) ?? []) this.stream.event(fields);
        // Clawbot extension: and the tool calls the node ran itself (`tool_steps`), when any.
        this.stream.event({ ...this.shape.end(part.finishReason), usage, ...citations, ...this.toolSteps.fields() });
        if (this.options.includeUsageChunk) this.stream.event({ choices: [], usage });
        this.stream.finish();
        return true;
      }
      case "restart":
        // Clawbot extension: sent deltas cannot be taken back, so a chunk with no text says the generation starts again
        // (a cluster's worker was lost); a client that knows drops the text since the last tool step. Others ignore it.
        return this.stream.send({ ...this.shape.delta({ type: "text-delta", text: "" }), clawbot_restart: { reason: part.reason, attempt: part.attempt } });
      case "error":
        this.stream.fail(part.error);
        return true;
      default:
        // Node-side tool steps (tool-call, tool-result) are not OpenAI chunks: the last chunk lists them.
        this.toolSteps.take(part);
        return true;
    }
  }

  drained(): Promise<void> {
    return this.stream.drained();
  }
}
