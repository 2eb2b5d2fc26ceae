// The one chat dispatcher of every frame gateway (WebSocket, MQTT, custom adapters): chat, cancel, ping, tool.approve, sessions and history frames, keyed by owner and id.
import { ClawError, toClawError, type ErrorCode } from "../core/errors.js";
import type { Principal, StreamPart, ToolCall } from "../core/types.js";
import type { Logger } from "../logging/logger.js";
import type { Pipeline, PipelineRequest, Reply } from "../pipeline/pipeline.js";
import type { SessionReader } from "../store/session-reader.js";
import { errorFrame, serverFrame, toGenerationParams, type ClientFrame, type ToolApproveFrame } from "./frames.js";
import { toKnowledgeChoice } from "./knowledge-field.js";
import { answerSessionFrame } from "./session-frames.js";
import { toToolChoice } from "./tool-choice-field.js";

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
  /**
   * Whether its clients answer `tool-approval` frames with `tool.approve` (WebSocket: a connection to ask over). Then a
   * `confirm: true` tool call waits for the answer (up to `tools.approval_timeout`); otherwise (MQTT, custom adapters by
   * default) such calls are denied at once and a `tool.approve` frame is refused with `bad_request`.
   */
  approvals?: boolean;
  /** Told of each frame refused here (a `tool.approve` that matches no waiting call), with its error code: the gateway's events. */
  refused?(code: ErrorCode): void;
  /** Where `sessions` and `history` frames read the caller's stored sessions (GatewayContext.sessions); without it they get `not_found`. */
  sessions?: SessionReader;
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
  /** The calls waiting for the client's `tool.approve`, by request key, then call id: each one's answer. */
  private readonly approvals = new Map<string, Map<string, (approved: boolean) => void>>();

  constructor(private readonly options: FrameSessionOptions) {}

  /**
   * Handles a parsed `chat`, `cancel`, `ping`, `tool.approve`, `sessions` or `history` frame. A chat and the session reads
   * need a principal (pings do not); the reads see only the principal's own sessions. A chat whose id
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
      case "tool.approve":
        return this.answerApproval(frame, options.owner ?? "", sink);
      case "sessions":
      case "history":
        // The owner is the verified subject, as the pipeline stores sessions: the same list over every gateway.
        if (!principal) return void sink.send(errorFrame(frame.id, new ClawError("unauthorized", "Authenticate first.")));
        sink.send(answerSessionFrame(frame, principal.subject, this.options.sessions));
        return;
    }
  }

  /** Whether a request of this owner with this id is running now. */
  isRunning(owner: string, id: string): boolean {
    return this.running.has(keyOf(owner, id));
  }

  /** Cancels every running request (the client went away, or the gateway stops); their waiting approvals are denied. */
  cancelAll(): void {
    for (const key of [...this.approvals.keys()]) this.denyWaiting(key);
    for (const controller of this.running.values()) controller.abort();
  }

  /**
   * A `tool.approve` frame: resolves the waiting call it names. One that names no waiting call (an unknown request, a
   * call already answered, denied by timeout or never asked about) gets an `error` frame with `id` null — never the
   * request's id, which would read as that request's end — and the request goes on.
   */
  private answerApproval(frame: ToolApproveFrame, owner: string, sink: FrameSink): void {
    const refuse = (error: ClawError) => {
      this.options.refused?.(error.code);
      sink.send(errorFrame(null, error));
    };
    if (!this.options.approvals) {
      return refuse(new ClawError("bad_request", "There is no approval channel here: tools that need approval are denied on this gateway."));
    }
    const key = keyOf(owner, frame.id);
    const waiting = this.approvals.get(key)?.get(frame.call_id);
    if (!waiting) {
      const why = this.running.has(key)
        ? `Request "${frame.id}" has no call "${frame.call_id}" waiting for approval (answered, timed out, or never asked).`
        : `No request "${frame.id}" is running.`;
      return refuse(new ClawError("not_found", why, { param: this.running.has(key) ? "call_id" : "id" }));
    }
    this.approvals.get(key)?.delete(frame.call_id);
    waiting(frame.approved);
  }

  /** The approve function of one request: registers the call, answered by `tool.approve` (or denied when the request ends). */
  private approver(key: string): (call: ToolCall) => Promise<boolean> {
    return (call) =>
      new Promise<boolean>((resolve) => {
        let calls = this.approvals.get(key);
        if (!calls) this.approvals.set(key, (calls = new Map()));
        calls.set(call.id, resolve);
      });
  }

  /** Denies every call of one request still waiting for approval, and forgets them. */
  private denyWaiting(key: string): void {
    const calls = this.approvals.get(key);
    this.approvals.delete(key);
    for (const resolve of calls?.values() ?? []) resolve(false);
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
      write: (part: StreamPart) => {
        // Once a call's result is out, its approval is no longer awaited (the pipeline denied it on timeout).
        if (part.type === "tool-result") this.approvals.get(key)?.delete(part.callId);
        return part.type === "text-delta" && !stream ? true : sink.send(serverFrame(frame.id, part));
      },
      ...(sink.drained ? { drained: () => (sink.drained as NonNullable<FrameSink["drained"]>)(controller.signal) } : {}),
    };
    const request: PipelineRequest = {
      id: frame.id,
      principal,
      session: frame.session,
      message: frame.message,
      params: toGenerationParams(frame.params),
      ...(frame.params?.knowledge !== undefined ? { knowledge: toKnowledgeChoice(frame.params.knowledge) } : {}),
      ...(frame.params?.tool_choice !== undefined ? { toolChoice: toToolChoice(frame.params.tool_choice) } : {}),
      ...(frame.params?.agent !== undefined ? { agent: frame.params.agent } : {}),
      ...(this.options.approvals ? { approve: this.approver(key) } : {}),
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
      this.denyWaiting(key);
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
