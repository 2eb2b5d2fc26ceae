// One WebSocket client: authenticates (if not at upgrade), decodes frames, runs chats through the pipeline.
import type { RawData, WebSocket } from "ws";
import { ClawError, errorTable, toClawError } from "../../core/errors.js";
import type { Principal } from "../../core/types.js";
import { FrameSession } from "../frame-session.js";
import { errorFrame, parseClientFrame } from "../frames.js";
import type { GatewayContext } from "../gateway.js";

export interface ConnectionOptions {
  context: GatewayContext;
  /** Set when the token came with the upgrade request (or auth is off). */
  principal: Principal | undefined;
  maxPayload: number;
  /** Milliseconds a client has to send its auth frame. */
  authTimeoutMs?: number;
}

export class WebsocketConnection {
  private principal: Principal | undefined;
  private readonly session: FrameSession;
  private alive = true;
  /** Frames are handled in order, so an auth frame is verified before the chat that follows it. */
  private queue: Promise<void> = Promise.resolve();
  private readonly authTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly socket: WebSocket,
    private readonly options: ConnectionOptions,
  ) {
    this.principal = options.principal;
    this.session = new FrameSession({ pipeline: options.context.pipeline, gateway: "websocket", send: (frame) => this.send(frame) });
    socket.on("message", (data) => {
      this.queue = this.queue.then(() => this.receive(data)).catch((error) => this.fail(error));
    });
    socket.on("pong", () => (this.alive = true));
    socket.on("close", () => this.abortAll());
    socket.on("error", (error) => options.context.logger.debug({ err: error }, "websocket error"));
    if (!this.principal) {
      this.authTimer = setTimeout(() => this.close(errorTable.unauthorized.closeCode, "no auth frame in time"), options.authTimeoutMs ?? 10_000);
      this.authTimer.unref();
    }
  }

  /** Called on every heartbeat tick: a peer that did not answer the last ping is closed. */
  heartbeat(): void {
    if (!this.alive) {
      this.socket.terminate();
      return;
    }
    this.alive = false;
    this.socket.ping();
  }

  close(code: number, reason: string): void {
    clearTimeout(this.authTimer);
    this.socket.close(code, reason.slice(0, 120));
  }

  private async receive(data: RawData): Promise<void> {
    const bytes = byteLength(data);
    if (bytes > this.options.maxPayload) {
      this.send(errorFrame(null, new ClawError("payload_too_large", `The frame is ${bytes} bytes; the limit is ${this.options.maxPayload}.`)));
      return;
    }
    const text = Array.isArray(data) ? Buffer.concat(data).toString("utf8") : Buffer.isBuffer(data) ? data.toString("utf8") : Buffer.from(data).toString("utf8");
    const parsed = parseClientFrame(text);
    if ("error" in parsed) {
      this.send(errorFrame(parsed.id, parsed.error));
      return;
    }
    const frame = parsed.frame;
    if (frame.type === "auth") return this.authenticate(frame.token);
    if (!this.principal && frame.type !== "ping") {
      this.close(errorTable.unauthorized.closeCode, "authenticate first");
      return;
    }
    // Not awaited: answers stream while later frames (more chats, cancels) are read.
    void this.session.receive(frame, this.principal);
  }

  private async authenticate(token: string): Promise<void> {
    if (this.principal) {
      this.send(errorFrame(null, new ClawError("bad_request", "This connection is already authenticated.")));
      return;
    }
    try {
      this.principal = await this.options.context.authenticator.authenticate(token);
      clearTimeout(this.authTimer);
      this.send({ type: "authenticated", subject: this.principal.subject });
    } catch (error) {
      const clawError = toClawError(error);
      this.close(errorTable[clawError.code].closeCode, clawError.message);
    }
  }

  private send(frame: Record<string, unknown>): void {
    if (this.socket.readyState === this.socket.OPEN) this.socket.send(JSON.stringify(frame));
  }

  private abortAll(): void {
    clearTimeout(this.authTimer);
    this.session.cancelAll();
  }

  private fail(error: unknown): void {
    this.options.context.logger.error({ err: error }, "websocket frame handling failed");
    this.send(errorFrame(null, toClawError(error)));
  }
}

function byteLength(data: RawData): number {
  if (Array.isArray(data)) return data.reduce((total, chunk) => total + chunk.length, 0);
  return data instanceof ArrayBuffer ? data.byteLength : data.length;
}
