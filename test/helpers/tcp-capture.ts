// A TCP proxy that records every byte both ways, and a parser that unmasks the WebSocket frames in what it recorded.
import net from "node:net";

export interface TcpCapture {
  /** The proxy's port: connect here instead of the target. */
  port: number;
  /** Bytes client → server and server → client, over all connections so far. */
  toServer(): Buffer;
  toClient(): Buffer;
  close(): Promise<void>;
}

export async function startTcpCapture(targetPort: number): Promise<TcpCapture> {
  const up: Buffer[] = [];
  const down: Buffer[] = [];
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const target = net.connect(targetPort, "127.0.0.1");
    for (const socket of [client, target]) {
      sockets.add(socket);
      socket.on("error", () => {});
      socket.on("close", () => sockets.delete(socket));
    }
    client.on("data", (chunk: Buffer) => {
      up.push(chunk);
      target.write(chunk);
    });
    target.on("data", (chunk: Buffer) => {
      down.push(chunk);
      client.write(chunk);
    });
    client.on("close", () => target.destroy());
    target.on("close", () => client.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    toServer: () => Buffer.concat(up),
    toClient: () => Buffer.concat(down),
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

export interface WireFrame {
  opcode: number;
  /** Unmasked payload. */
  payload: Buffer;
}

/** The WebSocket frames after the HTTP upgrade in one direction's bytes (masked client frames are unmasked). */
export function webSocketFrames(bytes: Buffer): WireFrame[] {
  const headerEnd = bytes.indexOf("\r\n\r\n");
  let at = headerEnd < 0 ? 0 : headerEnd + 4;
  const frames: WireFrame[] = [];
  while (at + 2 <= bytes.length) {
    const opcode = (bytes[at] as number) & 0x0f;
    const masked = ((bytes[at + 1] as number) & 0x80) !== 0;
    let length = (bytes[at + 1] as number) & 0x7f;
    at += 2;
    if (length === 126) {
      length = bytes.readUInt16BE(at);
      at += 2;
    } else if (length === 127) {
      length = Number(bytes.readBigUInt64BE(at));
      at += 8;
    }
    const mask = masked ? bytes.subarray(at, at + 4) : undefined;
    if (mask) at += 4;
    const payload = Buffer.from(bytes.subarray(at, at + length));
    if (mask) for (let index = 0; index < payload.length; index += 1) payload[index] = (payload[index] as number) ^ (mask[index % 4] as number);
    frames.push({ opcode, payload });
    at += length;
  }
  return frames;
}
