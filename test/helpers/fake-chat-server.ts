// A tiny WebSocket server that speaks the Clawbot chat protocol, for testing clients without a model.
import http from "node:http";
import type { AddressInfo } from "node:net";
import { WebSocketServer, type WebSocket } from "ws";

export interface FakeChatServer {
  url: string;
  /** Every client frame received, in order. */
  frames: Record<string, unknown>[];
  close(): Promise<void>;
}

export interface FakeChatServerOptions {
  /** The only accepted bearer token; connections without a token may connect but are closed 4401 on their first chat. */
  token: string;
  /** Milliseconds between streamed words. */
  wordDelayMs?: number;
}

/**
 * Replies to a chat by echoing "you said: <message>" word by word. Special messages:
 * "fail" → an `overloaded` error frame; "long" → 200 words (to cancel mid-stream); "history" → the session's earlier messages;
 * "restart" → "lost words", then a `restart` frame (a cluster's worker lost), then the real answer.
 */
export async function startFakeChatServer(options: FakeChatServerOptions): Promise<FakeChatServer> {
  const frames: Record<string, unknown>[] = [];
  const sessions = new Map<string, string[]>();
  const server = http.createServer((_request, response) => response.writeHead(404).end());
  const socketServer = new WebSocketServer({ noServer: true });
  server.on("upgrade", (request, socket, head) => {
    const header = request.headers.authorization;
    const token = header?.startsWith("Bearer ") ? header.slice(7) : undefined;
    if (token !== undefined && token !== options.token) {
      const body = JSON.stringify({ error: { code: "unauthorized", message: "Invalid token: signature verification failed." } });
      socket.end(`HTTP/1.1 401 Unauthorized\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`);
      return;
    }
    socketServer.handleUpgrade(request, socket, head, (connection) => serve(connection, token !== undefined));
  });

  function serve(connection: WebSocket, authenticated: boolean): void {
    const running = new Map<string, { cancelled: boolean }>();
    const send = (frame: Record<string, unknown>) => {
      if (connection.readyState === connection.OPEN) connection.send(JSON.stringify(frame));
    };
    connection.on("message", (data) => {
      const frame = JSON.parse(data.toString()) as Record<string, unknown>;
      frames.push(frame);
      if (frame.type === "ping") return send({ type: "pong" });
      if (!authenticated) return connection.close(4401, "authenticate first");
      if (frame.type === "cancel") {
        const request = running.get(String(frame.id));
        if (request) request.cancelled = true;
        return;
      }
      if (frame.type !== "chat") return;
      const id = String(frame.id);
      const message = String(frame.message);
      const session = typeof frame.session === "string" ? frame.session : "";
      if (message === "fail") return send({ type: "error", id, code: "overloaded", message: "All sequences are busy; retry later." });
      const history = sessions.get(session) ?? [];
      sessions.set(session, [...history, message]);
      let reply = `you said: ${message}`;
      if (message === "long") reply = Array.from({ length: 200 }, (_, index) => `word${index}`).join(" ");
      if (message === "history") reply = `earlier: ${history.join(", ")}`;
      const request = { cancelled: false };
      running.set(id, request);
      void stream(id, reply, request, message === "restart").finally(() => running.delete(id));
    });

    async function stream(id: string, reply: string, request: { cancelled: boolean }, restart = false): Promise<void> {
      const started = performance.now();
      if (restart) {
        send({ type: "text-delta", id, text: "lost" });
        send({ type: "text-delta", id, text: " words" });
        send({ type: "restart", id, reason: "worker_lost", attempt: 2 });
      }
      let firstTokenAt: number | undefined;
      let text = "";
      let tokens = 0;
      const words = reply.split(" ");
      for (const [index, word] of words.entries()) {
        await new Promise((resolve) => setTimeout(resolve, options.wordDelayMs ?? 5));
        if (request.cancelled) break;
        const delta = index === 0 ? word : ` ${word}`;
        text += delta;
        tokens += 1;
        firstTokenAt ??= performance.now();
        send({ type: "text-delta", id, text: delta });
      }
      const total = performance.now() - started;
      send({
        type: "finish",
        id,
        text,
        finish_reason: request.cancelled ? "cancelled" : "stop",
        usage: { prompt_tokens: 3, completion_tokens: tokens },
        timings: { queue_ms: 0, ttft_ms: (firstTokenAt ?? started) - started, total_ms: total },
      });
    }
  }

  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `ws://127.0.0.1:${port}`,
    frames,
    close: async () => {
      for (const client of socketServer.clients) client.terminate();
      socketServer.close();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
