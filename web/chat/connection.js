// The WebSocket client: connects where /web/config.json says, authenticates with an auth frame, reconnects with backoff, and routes frames by id.

/**
 * @typedef {{same_origin: boolean, port: number | null, path: string, tls: boolean, auth: "jwt" | "none"}} WebsocketConfig
 * @typedef {"connecting" | "connected" | "disconnected" | "signed-out"} ConnectionState
 * @typedef {Record<string, any>} Frame
 */

/** The 4401 close: the token is missing, bad, expired or revoked; reconnecting with it again would only fail again. */
export const unauthorizedClose = 4401;

/**
 * The URL of the node's WebSocket gateway as seen from this page.
 * @param {WebsocketConfig} endpoint
 */
export function websocketUrl(endpoint) {
  if (endpoint.same_origin) {
    // Behind a TLS-terminating reverse proxy the page's own scheme is what the browser must use.
    return `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}${endpoint.path}`;
  }
  return `${endpoint.tls ? "wss" : "ws"}://${location.hostname}:${endpoint.port}${endpoint.path}`;
}

export class Connection {
  /**
   * @param {object} options
   * @param {WebsocketConfig} options.endpoint
   * @param {() => string | undefined} options.token the token to authenticate with (undefined with auth "none")
   * @param {(state: ConnectionState, detail?: string) => void} options.onState
   * @param {(frame: Frame) => void} options.onFrame every frame after authentication, except those answered by `request`
   * @param {() => void} options.onReady authenticated (or open, without auth): requests may be sent
   * @param {() => void} options.onDrop the socket closed; running requests will get no more frames
   */
  constructor(options) {
    this.options = options;
    /** @type {WebSocket | undefined} */
    this.socket = undefined;
    this.ready = false;
    this.attempt = 0;
    this.stopped = false;
    /** @type {Map<string, (frame: Frame) => void>} */
    this.waiting = new Map();
    /** @type {ReturnType<typeof setTimeout> | undefined} */
    this.retryTimer = undefined;
  }

  open() {
    this.stopped = false;
    clearTimeout(this.retryTimer);
    this.ready = false;
    this.options.onState("connecting");
    const socket = new WebSocket(websocketUrl(this.options.endpoint));
    this.socket = socket;
    socket.addEventListener("open", () => {
      if (this.options.endpoint.auth === "none") return this.becomeReady();
      const token = this.options.token();
      // The token goes in a frame, never in the URL: URLs end up in proxy and server logs.
      socket.send(JSON.stringify({ type: "auth", token }));
    });
    socket.addEventListener("message", (event) => this.receive(socket, event.data));
    socket.addEventListener("close", (event) => this.closed(socket, event.code));
  }

  /** Closes for good (sign-out, 4401): no reconnect. */
  stop() {
    this.stopped = true;
    clearTimeout(this.retryTimer);
    const socket = this.socket;
    this.socket = undefined;
    this.ready = false;
    socket?.close(1000, "signed out");
  }

  /**
   * Sends a frame; false when not connected.
   * @param {Frame} frame
   */
  send(frame) {
    if (!this.socket || !this.ready || this.socket.readyState !== WebSocket.OPEN) return false;
    this.socket.send(JSON.stringify(frame));
    return true;
  }

  /**
   * Sends a frame whose one answer (same type, or an error, with the same id) resolves the promise.
   * @param {Frame & {id: string}} frame
   * @returns {Promise<Frame>}
   */
  request(frame) {
    return new Promise((resolve, reject) => {
      if (!this.send(frame)) return reject(new Error("not connected"));
      this.waiting.set(frame.id, resolve);
    });
  }

  becomeReady() {
    this.ready = true;
    this.attempt = 0;
    this.options.onState("connected");
    this.options.onReady();
  }

  /**
   * @param {WebSocket} socket
   * @param {unknown} data
   */
  receive(socket, data) {
    if (socket !== this.socket || typeof data !== "string") return;
    /** @type {Frame} */
    let frame;
    try {
      frame = JSON.parse(data);
    } catch {
      return;
    }
    if (frame === null || typeof frame !== "object") return;
    if (frame.type === "authenticated") {
      if (!this.ready) this.becomeReady();
      return;
    }
    const waiter = typeof frame.id === "string" ? this.waiting.get(frame.id) : undefined;
    if (waiter) {
      this.waiting.delete(frame.id);
      return waiter(frame);
    }
    this.options.onFrame(frame);
  }

  /**
   * @param {WebSocket} socket
   * @param {number} code
   */
  closed(socket, code) {
    if (socket !== this.socket) return;
    this.socket = undefined;
    this.ready = false;
    for (const [id, waiter] of this.waiting) waiter({ type: "error", id, code: "unavailable", message: "connection closed" });
    this.waiting.clear();
    this.options.onDrop();
    if (this.stopped) return;
    if (code === unauthorizedClose) {
      this.stopped = true;
      this.options.onState("signed-out", "unauthorized");
      return;
    }
    this.options.onState("disconnected");
    // Exponential backoff with jitter, 1 s up to 30 s, so a restarted node is not stormed by every open tab at once.
    const delay = Math.min(30_000, 1000 * 2 ** this.attempt) * (0.75 + Math.random() / 2);
    this.attempt = Math.min(this.attempt + 1, 5);
    this.retryTimer = setTimeout(() => this.open(), delay);
  }
}
