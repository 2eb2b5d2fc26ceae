// Sends raw bytes over a fresh TCP connection and reads one HTTP response, for clients no HTTP library would be.
import net from "node:net";

export interface RawResponse {
  kind: "response";
  status: number;
  headers: Record<string, string>;
  body: Buffer;
}

/** The server closed (or reset) the connection without a complete response, or nothing came before the deadline. */
export interface NoResponse {
  kind: "closed" | "timeout";
  /** Whatever bytes did arrive. */
  partial: Buffer;
}

export interface RawRequestOptions {
  timeoutMs?: number;
  /** The request was HEAD: the response has no body whatever its headers say. */
  head?: boolean;
  /** Half-close our side after writing (an incomplete request then ends at EOF). */
  endAfterWrite?: boolean;
}

/** Writes `bytes` to 127.0.0.1:port and resolves with the first complete non-1xx response. */
export function rawRequest(port: number, bytes: Buffer | string, options: RawRequestOptions = {}): Promise<RawResponse | NoResponse> {
  const timeoutMs = options.timeoutMs ?? 10_000;
  return new Promise((resolve) => {
    const socket = net.connect(port, "127.0.0.1");
    let received = Buffer.alloc(0);
    let settled = false;
    const finish = (result: RawResponse | NoResponse) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      resolve(result);
    };
    const timer = setTimeout(() => finish({ kind: "timeout", partial: received }), timeoutMs);
    socket.on("connect", () => {
      socket.write(bytes);
      if (options.endAfterWrite) socket.end();
    });
    socket.on("data", (chunk: Buffer) => {
      received = Buffer.concat([received, chunk]);
      const parsed = parseResponse(received, options.head === true, false);
      if (parsed) finish(parsed);
    });
    socket.on("error", () => undefined);
    socket.on("close", () => finish(parseResponse(received, options.head === true, true) ?? { kind: "closed", partial: received }));
  });
}

/** A complete response in `bytes` (skipping 1xx interim responses), or undefined while more is needed. */
export function parseResponse(bytes: Buffer, head: boolean, ended: boolean): RawResponse | undefined {
  let offset = 0;
  for (;;) {
    const headerEnd = bytes.indexOf("\r\n\r\n", offset);
    if (headerEnd < 0) return undefined;
    const lines = bytes.subarray(offset, headerEnd).toString("latin1").split("\r\n");
    const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(lines[0] ?? "")?.[1]);
    if (!Number.isInteger(status)) return undefined;
    const headers: Record<string, string> = {};
    for (const line of lines.slice(1)) {
      const colon = line.indexOf(":");
      if (colon > 0) headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
    }
    const bodyStart = headerEnd + 4;
    if (status >= 100 && status < 200) {
      offset = bodyStart;
      continue;
    }
    if (head || status === 204 || status === 304) return { kind: "response", status, headers, body: Buffer.alloc(0) };
    if (headers["content-length"] !== undefined) {
      const length = Number(headers["content-length"]);
      if (bytes.length - bodyStart < length) return undefined;
      return { kind: "response", status, headers, body: bytes.subarray(bodyStart, bodyStart + length) };
    }
    if (/chunked/i.test(headers["transfer-encoding"] ?? "")) {
      const body = dechunk(bytes.subarray(bodyStart));
      return body ? { kind: "response", status, headers, body } : undefined;
    }
    // Neither length nor chunks: the body runs to the end of the connection.
    return ended ? { kind: "response", status, headers, body: bytes.subarray(bodyStart) } : undefined;
  }
}

/** The body of a complete chunked encoding, or undefined when the last chunk has not arrived. */
function dechunk(bytes: Buffer): Buffer | undefined {
  const parts: Buffer[] = [];
  let offset = 0;
  for (;;) {
    const lineEnd = bytes.indexOf("\r\n", offset);
    if (lineEnd < 0) return undefined;
    const size = Number.parseInt(bytes.subarray(offset, lineEnd).toString("latin1"), 16);
    if (!Number.isFinite(size)) return undefined;
    if (size === 0) return Buffer.concat(parts);
    const start = lineEnd + 2;
    if (bytes.length < start + size + 2) return undefined;
    parts.push(bytes.subarray(start, start + size));
    offset = start + size + 2;
  }
}

/** Builds a request with a correct Content-Length for `body` (when there is one). */
export function buildRequest(method: string, target: string, headers: [string, string][], body?: Buffer | string): Buffer {
  const bodyBytes = body === undefined ? undefined : Buffer.isBuffer(body) ? body : Buffer.from(body, "utf8");
  const lines = [`${method} ${target} HTTP/1.1`, "host: 127.0.0.1", ...headers.map(([name, value]) => `${name}: ${value}`)];
  if (bodyBytes) lines.push(`content-length: ${bodyBytes.length}`);
  lines.push("connection: close");
  const head = Buffer.from(`${lines.join("\r\n")}\r\n\r\n`, "latin1");
  return bodyBytes ? Buffer.concat([head, bodyBytes]) : head;
}
