// The one chat dispatcher of every frame gateway (WebSocket, MQTT, custom adapters): chat, cancel and ping frames, keyed by owner and id.
import { ClawError, toClawError } from "../core/errors.js";
import type { Principal, StreamPart } from "../core/types.js";
import type { Logger } from "../logging/logger.js";
import type { Pipeline, PipelineRequest, Reply } from "../pipeline/pipeline.js";
import { errorFrame, serverFrame, toGenerationParams, type ClientFrame } from "./frames.js";
import { toKnowledgeChoice } from "./knowledge-field.js";

export type ServerFrame = Record<string, unknown>;

/** Where frames go: a connection, or (MQTT) one request's reply topic. */
export interface FrameSink {
  /** Writes one server frame; false when the client's send buffer is above the gateway's limit (the answer then waits for `drained`). */
  send(frame: ServerFrame): boolean | void;
  /** Resolves once the client can take more; rejects with `slow_client` past the gateway's timeout; ends at once when `signal` aborts. */
  drained?(signal: AbortSignal): Promise<void>;
}

export interface FrameSessionOptions extends Partial<FrameSink> {
  pipeline: Pipeline;
  /** The gateway's protocol name ("websocket", "mqtt", a custom protocol's name): the security policy's gateway, for plugins and logs. */
  gateway: string;
  /** For the log line of an ignored duplicate. */
  logger?: Logger;
}

/** How one frame is run, beyond the frame itself. */
export interface FrameOptions {
  /**
   * Whose request it is: ids are unique per owner, and only the owner's `cancel` reaches it. Default "": one
   * session per connection (WebSocket, TCP), where the connection is the owner. MQTT: the verified subject.
   */
  owner?: string;
  /** Where this frame's replies go instead of the session's own `send` (MQTT: the request's reply topic). */
  sink?: FrameSink;
  /** false: no `text-delta` frames, only the final `finish` or `error`. Default true. */
  stream?: boolean;
  /** Wraps storing the exchange (MQTT: one transaction with its request ledger); see PipelineRequest.recordExchange. */
  recordExchange?: PipelineRequest["recordExchange"];
}

export class FrameSession {
  private readonly running = new Map<string, AbortController>();

  constructor(private readonly options: FrameSessionOptions) {}

  /**
   * Handles a parsed `chat`, `cancel` or `ping` frame. A chat needs a principal (pings do not). A chat whose id
   * is already running for the same owner is ignored (logged): its one answer is the running request's, so no
   * request ever gets two terminal frames, and a redelivered MQTT request never runs twice.
   * Resolves when a chat's answer has been fully written (at once for other frames). Never rejects.
   */
  async receive(frame: Exclude<ClientFrame, { type: "auth" }>, principal: Principal | undefined, options: FrameOptions = {}): Promise<void> {
    const sink = options.sink ?? this.defaultSink();
    switch (frame.type) {
      case "ping":
        sink.send({ type: "pong" });
        return;
      case "cancel":
        this.running.get(keyOf(options.owner ?? "", frame.id))?.abort();
        return;
      case "chat":
        if (!principal) return void sink.send(errorFrame(frame.id, new ClawError("unauthorized", "Authenticate first.")));
        return this.chat(frame, principal, options, sink);
    }
  }

  /** Whether a request of this owner with this id is running now. */
  isRunning(owner: string, id: string): boolean {
    return this.running.has(keyOf(owner, id));
  }

  /** Cancels every running request (the client went away, or the gateway stops). */
  cancelAll(): void {
    for (const controller of this.running.values()) controller.abort();
  }

  private async chat(frame: Extract<ClientFrame, { type: "chat" }>, principal: Principal, options: FrameOptions, sink: FrameSink): Promise<void> {
    const owner = options.owner ?? "";
    const key = keyOf(owner, frame.id);
    if (this.running.has(key)) {
      this.options.logger?.info({ gateway: this.options.gateway, owner, id: frame.id }, "duplicate request id ignored: a request with this id is running");
      return;
    }
    // Registered before the first await, so a duplicate arriving meanwhile is seen.
    const controller = new AbortController();
    this.running.set(key, controller);
    const stream = options.stream ?? true;
    const reply: Reply = {
      write: (part: StreamPart) => (part.type === "text-delta" && !stream ? true : sink.send(serverFrame(frame.id, part))),
      ...(sink.drained ? { drained: () => (sink.drained as NonNullable<FrameSink["drained"]>)(controller.signal) } : {}),
    };
    const request: PipelineRequest = {
      id: frame.id,
      principal,
      session: frame.session,
      message: frame.message,
      params: toGenerationParams(frame.params),
      ...(frame.params?.knowledge !== undefined ? { knowledge: toKnowledgeChoice(frame.params.knowledge) } : {}),
      gateway: this.options.gateway,
      ...(options.recordExchange ? { recordExchange: options.recordExchange } : {}),
    };
    try {
      await this.options.pipeline.handle(request, reply, controller.signal);
    } catch (error) {
      // Pipeline.handle never throws; should it, the request still ends with one coded error.
      this.options.logger?.error({ err: error, id: frame.id }, "request failed outside the pipeline");
      sink.send(errorFrame(frame.id, toClawError(error)));
    } finally {
      this.running.delete(key);
    }
  }

  private defaultSink(): FrameSink {
    const { send, drained } = this.options;
    if (!send) throw new Error("FrameSession: no sink for this frame (give send() to the session or a sink to receive())");
    return { send, ...(drained ? { drained } : {}) };
  }
}

function keyOf(owner: string, id: string): string {
  return `${owner}\u0000${id}`;
}
