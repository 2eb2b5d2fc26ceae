// One WebSocket client: authenticates (at upgrade or by auth frame, renewable), decodes frames, runs chats with backpressure and tool approvals.
import type { RawData, WebSocket } from "ws";
import { ClawError, errorTable, toClawError } from "../../core/errors.js";
import type { Principal } from "../../core/types.js";
import { Backpressure } from "../backpressure.js";
import { FrameSession, type ServerFrame } from "../frame-session.js";
import { errorFrame, parseClientFrame, type ChatFrame } from "../frames.js";
import { jsonFrameCodec, type FrameCodec } from "../frame-codec.js";
import type { GatewayContext } from "../gateway.js";
import type { GatewayEvents } from "../gateway-events.js";

export interface ConnectionOptions {
  context: GatewayContext;
  /** Set when the token came with the upgrade request (or auth is off). */
  principal: Principal | undefined;
  maxPayload: number;
  /** Milliseconds a connection opened without a token has to send its auth frame (`auth_timeout`). */
  authTimeoutMs: number;
  /** Bytes buffered for this client above which its answers stop pulling tokens (`max_buffered`). */
  maxBuffered: number;
  /** Milliseconds the buffer may stay above `maxBuffered` before the request fails with slow_client (`slow_client_timeout`). */
  slowClientTimeoutMs: number;
  /** Where this connection's channel events go (the gateway's). */
  events: GatewayEvents;
  /** The client's address, for the record of a refused auth frame. */
  remote: string | undefined;
  /** How frames are written and read (default plain JSON; the SM encrypted link seals them). */
  codec?: FrameCodec;
}

/** Close codes of a clean close by either side; any other (1006 reset, 1009, 1011, 4xxx errors, a dropped peer) is abnormal. */
const normalCloseCodes: ReadonlySet<number> = new Set([1000, 1001, 1005]);
/** What the node records when it drops a peer without the closing handshake (ping timeout, slow client). */
const droppedCode = 1006;

/** Longest delay setTimeout accepts; a later expiry is checked again after it. */
const maxTimerMs = 2 ** 31 - 1;

export class WebsocketConnection {
  private principal: Principal | undefined;
  private readonly session: FrameSession;
  private readonly codec: FrameCodec;
  private alive = true;
  /** Frames are handled in order, so an auth frame is verified before the chat that follows it. */
  private queue: Promise<void> = Promise.resolve();
  private authTimer: NodeJS.Timeout | undefined;
  private expiryTimer: NodeJS.Timeout | undefined;
  /** Stops watching the current token for a revocation. */
  private stopWatchingRevocation: (() => void) | undefined;
  /** When the current token stops being accepted (epoch ms), if it ever does. */
  private expiresAt: number | undefined;
  /** The token expired: no new chat is taken, and the connection closes (4401) once the running ones finish. */
  private expired = false;
  /** Chats whose answer is still being written. */
  private running = 0;
  /** Set once the node decided to close this connection; nothing more is sent or started. */
  private closing = false;
  /** The code the node closed with (or 1006 when it dropped the peer); it decides whether the close was abnormal. */
  private nodeCloseCode: number | undefined;

  constructor(
    private readonly socket: WebSocket,
    private readonly options: ConnectionOptions,
  ) {
    this.principal = options.principal;
    this.codec = options.codec ?? jsonFrameCodec;
    this.session = new FrameSession({
      pipeline: options.context.pipeline,
      gateway: "websocket",
      logger: options.context.logger,
      send: (frame) => this.send(frame),
      drained: (signal) => this.drained(signal),
      // A connection to ask over: `confirm: true` tools wait for the client's tool.approve (closing it denies them).
      approvals: true,
      refused: (code) => options.events.frameRefused(code),
      sessions: options.context.sessions,
    });
    socket.on("message", (data) => {
      options.events.frameReceived();
      this.queue = this.queue.then(() => this.receive(data)).catch((error) => this.fail(error));
    });
    socket.on("pong", () => (this.alive = true));
    socket.on("close", (code: number) => {
      this.abortAll();
      options.events.connectionClosed(!normalCloseCodes.has(this.nodeCloseCode ?? code));
    });
    socket.on("error", (error: Error & { code?: string }) => {
      // ws refused a frame itself (over 4 × max_payload: 1009; a protocol error): it arrived, and was refused.
      options.events.frameReceived();
      options.events.frameRefused(error.code === "WS_ERR_UNSUPPORTED_MESSAGE_LENGTH" ? "payload_too_large" : "bad_request");
      options.context.logger.debug({ err: error }, "websocket error");
    });
    if (this.principal) {
      this.scheduleExpiry();
    } else {
      this.authTimer = setTimeout(() => this.close(errorTable.unauthorized.closeCode, "no auth frame in time"), options.authTimeoutMs);
      this.authTimer.unref();
    }
  }

  /** Whether a verified principal (or auth: none) owns this connection. */
  get authenticated(): boolean {
    return this.principal !== undefined;
  }

  /** Bytes written to this client and not yet handed to the kernel. */
  get bufferedAmount(): number {
    return this.socket.bufferedAmount;
  }

  /** Called on every heartbeat tick: a peer that did not answer the last ping is closed. */
  heartbeat(): void {
    if (!this.alive) {
      this.nodeCloseCode ??= droppedCode;
      this.socket.terminate();
      return;
    }
    this.alive = false;
    this.socket.ping();
  }

  /** Drops the connection without the closing handshake (a peer that does not answer it). */
  terminate(): void {
    this.nodeCloseCode ??= droppedCode;
    this.clearTimers();
    this.socket.terminate();
  }

  close(code: number, reason: string): void {
    this.closing = true;
    this.nodeCloseCode ??= code;
    this.clearTimers();
    this.socket.close(code, closeReason(reason));
  }

  private async receive(data: RawData): Promise<void> {
    if (this.closing) return;
    const bytes = byteLength(data);
    if (bytes > this.options.maxPayload) {
      this.options.events.frameRefused("payload_too_large");
      this.send(errorFrame(null, new ClawError("payload_too_large", `The frame is ${bytes} bytes; the limit is ${this.options.maxPayload}.`)));
      return;
    }
    const decoded = this.codec.decode(Array.isArray(data) ? Buffer.concat(data) : Buffer.isBuffer(data) ? data : Buffer.from(data));
    if ("reply" in decoded) return void this.socket.send(decoded.reply);
    if ("error" in decoded) {
      this.options.events.frameRefused(decoded.error.code);
      this.send(errorFrame(null, decoded.error));
      if (decoded.fatal) this.close(errorTable[decoded.error.code].closeCode, decoded.error.message);
      return;
    }
    const parsed = parseClientFrame(decoded.text);
    if ("error" in parsed) {
      this.options.events.frameRefused(parsed.error.code);
      this.send(errorFrame(parsed.id, parsed.error));
      return;
    }
    const frame = parsed.frame;
    if (frame.type === "auth") return this.authenticate(frame.token);
    if (!this.principal && frame.type !== "ping") {
      this.options.events.frameRefused("unauthorized");
      this.close(errorTable.unauthorized.closeCode, "authenticate first");
      return;
    }
    if (frame.type === "chat") return this.chat(frame, this.principal as Principal);
    if ((frame.type === "sessions" || frame.type === "history") && this.refuseExpired(frame.id)) return;
    void this.session.receive(frame, this.principal);
  }

  /** Refuses a new request (a chat, a session read) once the token has expired: true when it did. */
  private refuseExpired(id: string): boolean {
    // The clock is checked too: the expiry timer may not have fired yet.
    if (!this.expired && (this.expiresAt === undefined || Date.now() < this.expiresAt)) return false;
    this.options.events.frameRefused("unauthorized");
    this.send(errorFrame(id, new ClawError("unauthorized", "The token has expired: send a fresh auth frame before new requests.")));
    this.expire();
    return true;
  }

  private chat(frame: ChatFrame, principal: Principal): void {
    if (this.refuseExpired(frame.id)) return;
    // Not awaited: answers stream while later frames (more chats, cancels, a fresh auth) are read.
    this.running += 1;
    void this.session
      .receive(frame, principal)
      .catch((error: unknown) => this.fail(error))
      .finally(() => {
        this.running -= 1;
        if (this.expired && this.running === 0) this.close(errorTable.unauthorized.closeCode, "token expired");
      });
  }

  /**
   * The first auth frame authenticates the connection; a later one renews it: a valid token for the same subject
   * replaces the principal and its expiry, one for another subject is refused (forbidden), an invalid one closes 4401.
   */
  private async authenticate(token: string): Promise<void> {
    let principal: Principal;
    try {
      // A refused token is reported by the authenticator (authFailed), with the client's address.
      principal = await this.options.context.authenticator.authenticate(token, this.options.remote);
    } catch (error) {
      const clawError = toClawError(error);
      this.close(errorTable[clawError.code].closeCode, clawError.message);
      return;
    }
    if (this.closing) return;
    if (this.principal && principal.subject !== this.principal.subject) {
      this.options.events.frameRefused("forbidden");
      this.send(errorFrame(null, new ClawError("forbidden", `This connection is authenticated as "${this.principal.subject}"; a token for another subject cannot renew it.`)));
      return;
    }
    this.principal = principal;
    clearTimeout(this.authTimer);
    this.expired = false;
    this.scheduleExpiry();
    const expiresAt = this.expiresAt === undefined ? {} : { expires_at: new Date(this.expiresAt).toISOString() };
    this.send({ type: "authenticated", subject: principal.subject, ...expiresAt });
  }

  /** Arms the timer that ends the connection when its token stops being accepted. */
  private scheduleExpiry(): void {
    clearTimeout(this.expiryTimer);
    // A revoked token (POST /admin/tokens/revoke) ends the connection at once, running answers included.
    this.stopWatchingRevocation?.();
    this.stopWatchingRevocation = this.principal
      ? this.options.context.authenticator.watchRevocation?.(this.principal, () => this.revoked())
      : undefined;
    this.expiresAt = this.principal ? this.options.context.authenticator.expiresAt(this.principal) : undefined;
    if (this.expiresAt === undefined) return;
    const check = () => {
      const left = (this.expiresAt as number) - Date.now();
      if (left <= 0) return this.expire();
      this.expiryTimer = setTimeout(check, Math.min(left, maxTimerMs));
      this.expiryTimer.unref();
    };
    check();
  }

  /** The token was revoked by an admin: close with 4401 at once (the close cancels the running answers). */
  private revoked(): void {
    if (this.closing) return;
    this.options.context.logger.info({ gateway: "websocket", subject: this.principal?.subject, running: this.running }, "token revoked");
    this.close(errorTable.unauthorized.closeCode, "token revoked");
  }

  /** The token expired: take no new chat; close with 4401 now, or once the running answers are written. */
  private expire(): void {
    if (this.expired || this.closing) return;
    this.expired = true;
    this.options.context.logger.info({ gateway: "websocket", subject: this.principal?.subject, running: this.running }, "token expired");
    if (this.running === 0) this.close(errorTable.unauthorized.closeCode, "token expired");
  }

  /** Writes a frame; false when the client's buffer is above `max_buffered` (the pipeline then waits for `drained`). */
  private send(frame: ServerFrame): boolean {
    if (this.closing || this.socket.readyState !== this.socket.OPEN) return true;
    this.socket.send(this.codec.encode(frame));
    this.options.events.frameSent();
    if (frame.type === "error" && frame.code === "slow_client") this.closeSlow();
    return this.socket.bufferedAmount <= this.options.maxBuffered;
  }

  private drained(signal: AbortSignal): Promise<void> {
    const { maxBuffered, slowClientTimeoutMs } = this.options;
    return new Backpressure({ buffered: () => this.socket.bufferedAmount, maxBuffered, timeoutMs: slowClientTimeoutMs, signal }).drained();
  }

  /**
   * A request failed with slow_client (its error frame is queued behind the unread answer): every request on this
   * socket shares that buffer, so all are cancelled and the connection closes with 4408. A client that reads again
   * gets the answer so far, the error frame and the close; one that still does not read within slow_client_timeout
   * is dropped, which frees what was buffered for it.
   */
  private closeSlow(): void {
    if (this.closing) return;
    this.options.context.logger.info({ gateway: "websocket", subject: this.principal?.subject, buffered: this.socket.bufferedAmount }, "slow client closed");
    this.session.cancelAll();
    this.close(errorTable.slow_client.closeCode, "slow client: the answer was not read");
    const drop = setTimeout(() => {
      this.nodeCloseCode = droppedCode;
      this.socket.terminate();
    }, this.options.slowClientTimeoutMs);
    drop.unref();
    this.socket.once("close", () => clearTimeout(drop));
  }

  private clearTimers(): void {
    clearTimeout(this.authTimer);
    clearTimeout(this.expiryTimer);
    this.stopWatchingRevocation?.();
    this.stopWatchingRevocation = undefined;
  }

  private abortAll(): void {
    this.clearTimers();
    this.session.cancelAll();
  }

  private fail(error: unknown): void {
    this.options.context.logger.error({ err: error }, "websocket frame handling failed");
    this.send(errorFrame(null, toClawError(error)));
  }
}

/** A close frame's reason holds at most 123 bytes of UTF-8; longer ones would make ws throw. */
function closeReason(reason: string): string {
  let text = reason.slice(0, 123);
  while (Buffer.byteLength(text) > 123) text = text.slice(0, -1);
  return text;
}

function byteLength(data: RawData): number {
  if (Array.isArray(data)) return data.reduce((total, chunk) => total + chunk.length, 0);
  return data instanceof ArrayBuffer ? data.byteLength : data.length;
}
