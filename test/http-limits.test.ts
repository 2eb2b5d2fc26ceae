// Server-level limits of a port: connections in all and per client IP, and the slowloris timeouts (headers, request, keep-alive).
import net from "node:net";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { rawRequest, type RawResponse } from "./helpers/raw-http.js";
import { startTestNode, type TestNode } from "./helpers/test-node.js";

/** Connects from a given loopback source address (Linux routes all of 127/8 to lo). */
function connect(port: number, localAddress = "127.0.0.1"): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ port, host: "127.0.0.1", localAddress });
    socket.once("connect", () => resolve(socket));
    socket.once("error", reject);
  });
}

/** Everything the server sends until it closes the connection. */
function untilClosed(socket: net.Socket): Promise<string> {
  return new Promise((resolve) => {
    let received = "";
    socket.on("data", (chunk: Buffer) => (received += chunk.toString("latin1")));
    socket.on("error", () => undefined);
    socket.once("close", () => resolve(received));
  });
}

function codeOf(response: string): string | undefined {
  const body = response.slice(response.indexOf("\r\n\r\n") + 4);
  return (JSON.parse(body) as { error?: { code?: string } }).error?.code;
}

describe("connection limits", () => {
  let node: TestNode;
  let port: number;
  const open: net.Socket[] = [];

  beforeAll(async () => {
    node = await startTestNode({ agent: { engine: "echo" }, http: { max_connections: 3, max_connections_per_ip: 2 } });
    port = Number(new URL(node.httpUrl).port);
  });
  afterEach(() => {
    for (const socket of open.splice(0)) socket.destroy();
  });
  afterAll(async () => node?.close());

  it("refuses a client IP's connections over max_connections_per_ip, and any over max_connections, with 429 overloaded", async () => {
    open.push(await connect(port, "127.0.0.1"), await connect(port, "127.0.0.1"));
    const thirdFromSameIp = await rawRequest(port, "GET /healthz HTTP/1.1\r\nhost: x\r\n\r\n");
    expect(thirdFromSameIp.kind).toBe("response");
    expect((thirdFromSameIp as RawResponse).status).toBe(429);
    expect((thirdFromSameIp as RawResponse).headers["retry-after"]).toBe("1");
    expect(JSON.parse((thirdFromSameIp as RawResponse).body.toString()).error.code).toBe("overloaded");
    expect(JSON.parse((thirdFromSameIp as RawResponse).body.toString()).error.message).toContain("max_connections_per_ip");

    // Another address still gets in (3 in all), a fourth address does not: the port is full.
    const other = await connect(port, "127.0.0.2");
    open.push(other);
    other.write("GET /healthz HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n");
    expect(await untilClosed(other)).toMatch(/^HTTP\/1\.1 200 /);
    open.push(await connect(port, "127.0.0.2"));
    const full = await connect(port, "127.0.0.3");
    const refused = await untilClosed(full);
    expect(refused).toMatch(/^HTTP\/1\.1 429 /);
    expect(codeOf(refused)).toBe("overloaded");
    expect(refused).toContain("max_connections");
  });

  it("counts connections until they close: after closing, the same IP is served again", async () => {
    await expect.poll(async () => ((await rawRequest(port, "GET /healthz HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n")) as RawResponse).status).toBe(200);
    const first = await connect(port);
    const second = await connect(port);
    first.destroy();
    second.destroy();
    await expect.poll(async () => ((await rawRequest(port, "GET /healthz HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n")) as RawResponse).status).toBe(200);
  });
});

describe("slowloris timeouts", () => {
  let node: TestNode;
  let port: number;

  beforeAll(async () => {
    node = await startTestNode({ agent: { engine: "echo" }, http: { headers_timeout: 1, request_timeout: 2, keep_alive_timeout: 1 } });
    port = Number(new URL(node.httpUrl).port);
  });
  afterAll(async () => node?.close());

  /** Writes the first bytes at once, then one more byte every 100 ms until the server closes the connection. */
  async function trickle(start: string, rest: string): Promise<string> {
    const socket = await connect(port);
    const closed = untilClosed(socket);
    socket.write(start);
    let index = 0;
    const timer = setInterval(() => {
      if (socket.writable) socket.write(rest[index % rest.length] as string);
      index += 1;
    }, 100);
    try {
      return await closed;
    } finally {
      clearInterval(timer);
    }
  }

  it("closes connections whose headers trickle past headers_timeout with 408 slow_client, and serves others meanwhile", async () => {
    const slow = Array.from({ length: 20 }, () => trickle("GET /healthz HTTP/1.1\r\nhost: x\r\n", "x-slow: aaaaaaaaaaaaaaaaaaaaaaa\r\n"));
    const health = await fetch(`${node.httpUrl}/healthz`);
    expect(health.status).toBe(200);
    for (const response of await Promise.all(slow)) {
      expect(response).toMatch(/^HTTP\/1\.1 408 /);
      expect(codeOf(response)).toBe("slow_client");
    }
  });

  it("closes a request whose body trickles past request_timeout with 408 slow_client", async () => {
    const token = await node.token();
    const response = await trickle(
      `POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\nauthorization: Bearer ${token}\r\ncontent-type: application/json\r\ncontent-length: 100000\r\n\r\n`,
      "a",
    );
    expect(response).toMatch(/^HTTP\/1\.1 408 /);
    expect(codeOf(response)).toBe("slow_client");
  });

  it("closes an idle keep-alive connection after keep_alive_timeout", async () => {
    const socket = await connect(port);
    const closed = untilClosed(socket);
    socket.write("GET /healthz HTTP/1.1\r\nhost: x\r\n\r\n");
    const received = await closed;
    expect(received).toMatch(/^HTTP\/1\.1 200 /);
    expect(received).toContain("Keep-Alive: timeout=1");
  });
});
