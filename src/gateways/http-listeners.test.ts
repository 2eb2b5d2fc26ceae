// The shared per-port server: plain requests on a WebSocket-only port, upgrades on an HTTP-only port, limits of two gateways on one port.
import net from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { silentLogger } from "../logging/logger.js";
import { HttpListeners, type ListenerConfig } from "./http-listeners.js";

const base: ListenerConfig = {
  host: "127.0.0.1",
  port: 0,
  max_connections: 100,
  max_connections_per_ip: 100,
  headers_timeout: 10,
  request_timeout: 30,
  keep_alive_timeout: 5,
};

/** Sends raw bytes and returns everything received until the server closes. */
function exchange(port: number, bytes: string): Promise<string> {
  return new Promise((resolve) => {
    const socket = net.connect(port, "127.0.0.1", () => socket.write(bytes));
    let received = "";
    socket.on("data", (chunk: Buffer) => (received += chunk.toString("latin1")));
    socket.on("error", () => undefined);
    socket.on("close", () => resolve(received));
  });
}

const upgrade = "GET / HTTP/1.1\r\nhost: x\r\nupgrade: websocket\r\nconnection: Upgrade\r\nsec-websocket-version: 13\r\nsec-websocket-key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n";

describe("HttpListeners", () => {
  let listeners: HttpListeners;
  afterEach(async () => listeners.release(0));

  it("tells plain requests on a WebSocket-only port to upgrade (426)", async () => {
    listeners = new HttpListeners();
    listeners.attach(base, silentLogger, { upgrade: (_request, socket) => void socket.destroy() });
    const port = await listeners.listen(0);
    const response = await exchange(port, "GET / HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n");
    expect(response).toMatch(/^HTTP\/1\.1 426 /);
    expect(response).toContain('{"error":{"code":"bad_request","message":"This port speaks WebSocket; upgrade the connection."}}');
  });

  it("answers upgrades on an HTTP-only port with a coded 404, and routes plain requests", async () => {
    listeners = new HttpListeners();
    listeners.attach(base, silentLogger, { routes: (app) => app.get("/ping", async () => "pong") });
    const port = await listeners.listen(0);
    const refused = await exchange(port, upgrade);
    expect(refused).toMatch(/^HTTP\/1\.1 404 /);
    expect(refused).toContain('"code":"not_found"');
    expect(await exchange(port, "GET /ping HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n")).toMatch(/^HTTP\/1\.1 200 [^]*pong$/);
  });

  it("destroys the socket when an upgrade handler throws or rejects, and stays up", async () => {
    listeners = new HttpListeners();
    let calls = 0;
    listeners.attach(base, silentLogger, {
      upgrade: () => {
        calls += 1;
        if (calls === 1) throw new Error("thrown");
        return Promise.reject(new Error("rejected"));
      },
    });
    const port = await listeners.listen(0);
    expect(await exchange(port, upgrade)).toBe("");
    expect(await exchange(port, upgrade)).toBe("");
    expect(calls).toBe(2);
  });

  it("applies the smaller limit where two gateways share a port, and refuses different hosts", async () => {
    listeners = new HttpListeners();
    listeners.attach({ ...base, max_connections_per_ip: 1 }, silentLogger, { upgrade: () => undefined });
    listeners.attach(base, silentLogger, { routes: (app) => app.get("/ping", async () => "pong") });
    expect(() => listeners.attach({ ...base, host: "0.0.0.0" }, silentLogger, {})).toThrow(/different hosts/);
    const port = await listeners.listen(0);
    const holder = net.connect(port, "127.0.0.1");
    await new Promise((resolve) => holder.once("connect", resolve));
    const refused = await exchange(port, "GET /ping HTTP/1.1\r\nhost: x\r\n\r\n");
    holder.destroy();
    expect(refused).toMatch(/^HTTP\/1\.1 429 /);
    expect(refused).toContain('"code":"overloaded"');
    await listeners.release(0); // one of the two users; afterEach releases the other
  });
});
