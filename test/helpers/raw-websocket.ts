// A WebSocket client on a bare TCP socket: hand-made upgrade requests and frames, for framing no library would send.
import { randomBytes } from "node:crypto";
import net from "node:net";

export interface FrameSpec {
  fin?: boolean;
  /** RSV1-3 as a 3-bit number (must be 0 without extensions). */
  rsv?: number;
  opcode: number;
  payload: Buffer;
  /** Clients must mask; false sends an unmasked frame (a protocol error). */
  masked?: boolean;
  /** Declares this length instead of the payload's (a lie, or a huge 64-bit length). */
  declaredLength?: bigint;
}

/** Encodes one frame as a client would (masked unless told otherwise). */
export function encodeFrame(spec: FrameSpec): Buffer {
  const masked = spec.masked ?? true;
  const length = spec.declaredLength ?? BigInt(spec.payload.length);
  const first = ((spec.fin ?? true) ? 0x80 : 0) | ((spec.rsv ?? 0) << 4) | (spec.opcode & 0x0f);
  let header: Buffer;
  if (length < 126n) header = Buffer.from([first, Number(length)]);
  else if (length < 65536n) {
    header = Buffer.alloc(4);
    header[0] = first;
    header[1] = 126;
    header.writeUInt16BE(Number(length), 2);
  } else {
    header = Buffer.alloc(10);
    header[0] = first;
    header[1] = 127;
    header.writeBigUInt64BE(length, 2);
  }
  if (!masked) return Buffer.concat([header, spec.payload]);
  header[1] = (header[1] as number) | 0x80;
  const mask = randomBytes(4);
  const body = Buffer.from(spec.payload);
  for (let index = 0; index < body.length; index += 1) body[index] = (body[index] as number) ^ (mask[index % 4] as number);
  return Buffer.concat([header, mask, body]);
}

export interface ServerFrame {
  opcode: number;
  payload: Buffer;
}

/** Splits the server's (unmasked) frames off the front of `bytes`; returns the frames and the rest. */
export function decodeServerFrames(bytes: Buffer): { frames: ServerFrame[]; rest: Buffer } {
  const frames: ServerFrame[] = [];
  let offset = 0;
  for (;;) {
    if (bytes.length - offset < 2) break;
    const opcode = (bytes[offset] as number) & 0x0f;
    let length = (bytes[offset + 1] as number) & 0x7f;
    let start = offset + 2;
    if (length === 126) {
      if (bytes.length - offset < 4) break;
      length = bytes.readUInt16BE(offset + 2);
      start = offset + 4;
    } else if (length === 127) {
      if (bytes.length - offset < 10) break;
      length = Number(bytes.readBigUInt64BE(offset + 2));
      start = offset + 10;
    }
    if (bytes.length < start + length) break;
    frames.push({ opcode, payload: bytes.subarray(start, start + length) });
    offset = start + length;
  }
  return { frames, rest: bytes.subarray(offset) };
}

export interface RawWebsocket {
  socket: net.Socket;
  /** Frames received after the 101 response. */
  frames: ServerFrame[];
  /** Resolves when the TCP connection has closed. */
  closed: Promise<void>;
  /** Resolves once a frame matching the predicate has arrived (or the connection closed: then false). */
  waitFor(predicate: (frame: ServerFrame) => boolean, timeoutMs: number): Promise<boolean | "timeout">;
}

/** Opens a TCP connection, sends an upgrade request with `headers`, and resolves after the 101 response. */
export function openRawWebsocket(port: number, headers: Record<string, string>, path = "/"): Promise<RawWebsocket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, "127.0.0.1");
    let buffer: Buffer = Buffer.alloc(0);
    let upgraded = false;
    const frames: ServerFrame[] = [];
    const watchers = new Set<() => void>();
    const closed = new Promise<void>((done) => socket.once("close", () => done()));
    let isClosed = false;
    void closed.then(() => {
      isClosed = true;
      for (const watcher of [...watchers]) watcher();
      if (!upgraded) reject(new Error(`closed before the upgrade: ${buffer.toString("latin1").slice(0, 300)}`));
    });
    socket.on("error", () => undefined);
    socket.on("connect", () => {
      const lines = [
        `GET ${path} HTTP/1.1`,
        `host: 127.0.0.1:${port}`,
        "upgrade: websocket",
        "connection: Upgrade",
        "sec-websocket-version: 13",
        `sec-websocket-key: ${randomBytes(16).toString("base64")}`,
        ...Object.entries(headers).map(([name, value]) => `${name}: ${value}`),
      ];
      socket.write(`${lines.join("\r\n")}\r\n\r\n`);
    });
    socket.on("data", (chunk: Buffer) => {
      buffer = Buffer.concat([buffer, chunk]);
      if (!upgraded) {
        const end = buffer.indexOf("\r\n\r\n");
        if (end < 0) return;
        const head = buffer.subarray(0, end).toString("latin1");
        if (!head.startsWith("HTTP/1.1 101")) {
          socket.destroy();
          reject(new Error(`upgrade refused: ${buffer.toString("latin1").slice(0, 300)}`));
          return;
        }
        upgraded = true;
        buffer = buffer.subarray(end + 4);
        resolve(handle);
      }
      const decoded = decodeServerFrames(buffer);
      frames.push(...decoded.frames);
      buffer = decoded.rest;
      for (const watcher of [...watchers]) watcher();
    });
    const handle: RawWebsocket = {
      socket,
      frames,
      closed,
      waitFor(predicate, timeoutMs) {
        return new Promise((done) => {
          const check = () => {
            if (frames.some(predicate)) return finish(true);
            if (isClosed) return finish(false);
          };
          const timer = setTimeout(() => finish("timeout"), timeoutMs);
          const finish = (value: boolean | "timeout") => {
            clearTimeout(timer);
            watchers.delete(check);
            done(value);
          };
          watchers.add(check);
          check();
        });
      },
    };
  });
}

/** The close code in a close frame's payload, or undefined when it carries none. */
export function closeCodeOf(frame: ServerFrame): number | undefined {
  return frame.opcode === 0x8 && frame.payload.length >= 2 ? frame.payload.readUInt16BE(0) : undefined;
}
