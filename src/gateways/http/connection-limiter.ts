// Counts a port's open TCP connections, in all and per client IP, and refuses those over the limits with a coded 429.
import type { Socket } from "node:net";
import { ClawError } from "../../core/errors.js";
import { rawErrorResponse } from "./http-io.js";

export interface ConnectionLimits {
  maxConnections: number;
  maxConnectionsPerIp: number;
}

/** A refused socket that does not close its side is destroyed after this many milliseconds. */
const refusedLingerMs = 1_000;

export class ConnectionLimiter {
  private readonly sockets = new Set<Socket>();
  private readonly perIp = new Map<string, number>();
  private readonly refused = new WeakSet<Socket>();

  constructor(private readonly limits: () => ConnectionLimits) {}

  /** Open connections (HTTP and upgraded WebSocket ones) and the bytes written to them that the kernel has not taken yet. */
  stats(): { open: number; bufferedBytes: number } {
    let bufferedBytes = 0;
    for (const socket of this.sockets) bufferedBytes += socket.writableLength;
    return { open: this.sockets.size, bufferedBytes };
  }

  /** Called on the server's 'connection': counts the socket until it closes, or refuses it (false). */
  admit(socket: Socket): boolean {
    const ip = socket.remoteAddress ?? "unknown";
    const fromIp = this.perIp.get(ip) ?? 0;
    const { maxConnections, maxConnectionsPerIp } = this.limits();
    if (this.sockets.size >= maxConnections) {
      this.refuse(socket, `The server has ${maxConnections} open connections, its limit (max_connections); retry later.`);
      return false;
    }
    if (fromIp >= maxConnectionsPerIp) {
      this.refuse(socket, `This address has ${maxConnectionsPerIp} open connections, its limit (max_connections_per_ip); close some or retry later.`);
      return false;
    }
    this.sockets.add(socket);
    this.perIp.set(ip, fromIp + 1);
    socket.once("close", () => {
      this.sockets.delete(socket);
      const left = (this.perIp.get(ip) ?? 1) - 1;
      if (left > 0) this.perIp.set(ip, left);
      else this.perIp.delete(ip);
    });
    return true;
  }

  /** Whether this socket was refused: any request or upgrade parsed on it must not be served. */
  isRefused(socket: Socket): boolean {
    return this.refused.has(socket);
  }

  private refuse(socket: Socket, message: string): void {
    this.refused.add(socket);
    socket.on("error", () => socket.destroy());
    // One write the kernel takes at once (no read of the request); the socket goes when it is flushed or soon after.
    socket.end(rawErrorResponse(new ClawError("overloaded", message)), () => socket.destroy());
    setTimeout(() => socket.destroy(), refusedLingerMs).unref();
  }
}
