// A small promise-based WebSocket client for tests of the Clawbot frame protocol.
import WebSocket from "ws";

export type Frame = Record<string, unknown> & { type: string; id?: string | null };

export interface ChatResult {
  deltas: string[];
  end: Frame;
}

export class WsTestClient {
  readonly frames: Frame[] = [];
  private listeners: ((frame: Frame) => void)[] = [];
  closed: Promise<{ code: number; reason: string }>;

  private constructor(readonly socket: WebSocket) {
    socket.on("message", (data) => {
      const frame = JSON.parse(String(data)) as Frame;
      this.frames.push(frame);
      for (const listener of [...this.listeners]) listener(frame);
    });
    this.closed = new Promise((resolve) => socket.on("close", (code, reason) => resolve({ code, reason: String(reason) })));
  }

  static async connect(url: string, options: { token?: string } = {}): Promise<WsTestClient> {
    const socket = new WebSocket(url, options.token ? { headers: { authorization: `Bearer ${options.token}` } } : {});
    await new Promise<void>((resolve, reject) => {
      socket.once("open", () => resolve());
      socket.once("error", reject);
      socket.once("unexpected-response", (_request, response) => reject(new Error(`HTTP ${response.statusCode}`)));
    });
    return new WsTestClient(socket);
  }

  send(frame: unknown): void {
    this.socket.send(typeof frame === "string" ? frame : JSON.stringify(frame));
  }

  /** The next frame (already received or future) matching the predicate. */
  next(predicate: (frame: Frame) => boolean, timeoutMs = 30_000): Promise<Frame> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error("timed out waiting for a frame")), timeoutMs);
      const listener = (frame: Frame) => {
        if (!predicate(frame)) return;
        clearTimeout(timer);
        this.listeners = this.listeners.filter((other) => other !== listener);
        resolve(frame);
      };
      this.listeners.push(listener);
    });
  }

  /** Collects one request's deltas up to its finish or error frame. */
  async result(id: string): Promise<ChatResult> {
    const end = await this.next((frame) => frame.id === id && (frame.type === "finish" || frame.type === "error"));
    const deltas = this.frames.filter((frame) => frame.id === id && frame.type === "text-delta").map((frame) => String(frame.text));
    return { deltas, end };
  }

  async chat(id: string, message: string, params: Record<string, unknown> = {}, session?: string): Promise<ChatResult> {
    const pending = this.result(id);
    this.send({ type: "chat", id, message, params, ...(session ? { session } : {}) });
    return pending;
  }

  close(): void {
    this.socket.close();
  }
}
