// One node:http server per port, shared by the gateways that name it (HTTP routes and WebSocket upgrades).
import http from "node:http";
import type { Duplex } from "node:stream";

export type RequestHandler = (request: http.IncomingMessage, response: http.ServerResponse) => void;
export type UpgradeHandler = (request: http.IncomingMessage, socket: Duplex, head: Buffer) => void;

interface Listener {
  server: http.Server;
  host: string;
  requestHandler?: RequestHandler;
  upgradeHandler?: UpgradeHandler;
  users: number;
  listening?: Promise<void>;
}

export class HttpListeners {
  private readonly listeners = new Map<number, Listener>();

  /** Claims the server on host:port for a request and/or upgrade handler. */
  attach(host: string, port: number, handlers: { request?: RequestHandler; upgrade?: UpgradeHandler }): Listener {
    let listener = this.listeners.get(port);
    if (listener && listener.host !== host) {
      throw new Error(`Gateways on port ${port} name different hosts (${listener.host} and ${host}); one port has one host`);
    }
    if (!listener) {
      const created: Listener = { server: http.createServer(), host, users: 0 };
      created.server.on("request", (request, response) => {
        if (created.requestHandler) return created.requestHandler(request, response);
        response.writeHead(426, { "content-type": "application/json", upgrade: "websocket" });
        response.end(JSON.stringify({ error: { code: "bad_request", message: "This port speaks WebSocket; upgrade the connection." } }));
      });
      created.server.on("upgrade", (request, socket, head) => {
        if (created.upgradeHandler) return created.upgradeHandler(request, socket, head);
        socket.end("HTTP/1.1 404 Not Found\r\nconnection: close\r\n\r\n");
      });
      listener = created;
      this.listeners.set(port, listener);
    }
    if (handlers.request) {
      if (listener.requestHandler) throw new Error(`Two HTTP gateways name port ${port}`);
      listener.requestHandler = handlers.request;
    }
    if (handlers.upgrade) {
      if (listener.upgradeHandler) throw new Error(`Two WebSocket gateways name port ${port}`);
      listener.upgradeHandler = handlers.upgrade;
    }
    listener.users += 1;
    return listener;
  }

  /** Starts listening (once per port); resolves with the bound port. */
  async listen(port: number): Promise<number> {
    const listener = this.listeners.get(port);
    if (!listener) throw new Error(`Nothing attached to port ${port}`);
    listener.listening ??= new Promise<void>((resolve, reject) => {
      listener.server.once("error", reject);
      listener.server.listen(port, listener.host, () => {
        listener.server.off("error", reject);
        resolve();
      });
    });
    await listener.listening;
    const address = listener.server.address();
    return typeof address === "object" && address ? address.port : port;
  }

  /** Releases one user of the port; the server closes when the last one leaves. */
  async release(port: number): Promise<void> {
    const listener = this.listeners.get(port);
    if (!listener) return;
    listener.users -= 1;
    if (listener.users > 0) return;
    this.listeners.delete(port);
    await new Promise<void>((resolve) => {
      listener.server.close(() => resolve());
      listener.server.closeAllConnections();
    });
  }
}
