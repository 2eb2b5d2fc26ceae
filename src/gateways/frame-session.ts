// Runs the protocol's request frames for one client of any frame-based adapter: chat, cancel, ping, keyed by id.
import { ClawError } from "../core/errors.js";
import type { Principal, StreamPart } from "../core/types.js";
import type { Pipeline } from "../pipeline/pipeline.js";
import { errorFrame, serverFrame, toGenerationParams, type ClientFrame } from "./frames.js";

export type ServerFrame = Record<string, unknown>;

export interface FrameSessionOptions {
  pipeline: Pipeline;
  /** The gateway's protocol name ("websocket", …), passed to the pipeline for plugins and logs. */
  gateway?: string;
  /** Writes one server frame to the client. */
  send(frame: ServerFrame): void;
}

export class FrameSession {
  private readonly running = new Map<string, AbortController>();

  constructor(private readonly options: FrameSessionOptions) {}

  /**
   * Handles a parsed `chat`, `cancel` or `ping` frame. A chat needs a principal (pings do not).
   * Resolves when a chat's answer has been fully written (at once for other frames).
   */
  async receive(frame: Exclude<ClientFrame, { type: "auth" }>, principal: Principal | undefined): Promise<void> {
    switch (frame.type) {
      case "ping":
        this.options.send({ type: "pong" });
        return;
      case "cancel":
        this.running.get(frame.id)?.abort();
        return;
      case "chat":
        if (!principal) return this.options.send(errorFrame(frame.id, new ClawError("unauthorized", "Authenticate first.")));
        return this.chat(frame, principal);
    }
  }

  /** Cancels every running request (the client went away). */
  cancelAll(): void {
    for (const controller of this.running.values()) controller.abort();
  }

  private async chat(frame: Extract<ClientFrame, { type: "chat" }>, principal: Principal): Promise<void> {
    if (this.running.has(frame.id)) {
      this.options.send(errorFrame(frame.id, new ClawError("bad_request", `A request with id "${frame.id}" is already running on this connection.`)));
      return;
    }
    const controller = new AbortController();
    this.running.set(frame.id, controller);
    const reply = { write: (part: StreamPart) => this.options.send(serverFrame(frame.id, part)) };
    try {
      await this.options.pipeline.handle(
        { id: frame.id, principal, session: frame.session, message: frame.message, params: toGenerationParams(frame.params), gateway: this.options.gateway },
        reply,
        controller.signal,
      );
    } finally {
      this.running.delete(frame.id);
    }
  }
}
