// Hostile TLS clients against a real node whose websocket + http port speaks TLS (mTLS optional): garbage records, mutated ClientHellos, resets mid-handshake.
import https from "node:https";
import net from "node:net";
import path from "node:path";
import tls from "node:tls";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { HostileNode } from "../helpers/hostile-node.js";
import { makeTestPki, type TestPki } from "../helpers/test-ca.js";
import { useHostileNode } from "./use-hostile-node.js";

let pki: TestPki;
let node: HostileNode;
beforeAll(() => {
  pki ??= makeTestPki();
});
afterAll(() => pki?.remove());

useHostileNode(
  () => {
    pki ??= makeTestPki();
    const file = (name: string) => path.join(pki.directory, name);
    const block = { cert: file(pki.files.serverCert), key: file(pki.files.serverKey), ca: file(pki.files.ca), client_certificates: "optional" };
    return { websocket: { tls: block }, http: { tls: block } };
  },
  (started) => (node = started),
);

/** Sends bytes on a raw TCP connection, then either closes it or resets it; resolves when it is gone. */
function sendRaw(port: number, bytes: Uint8Array, reset: boolean): Promise<void> {
  return new Promise((resolve) => {
    const socket = net.connect(port, "127.0.0.1");
    socket.on("error", () => undefined);
    socket.on("close", () => resolve());
    // A partial record leaves the server waiting for the rest (until headers_timeout): do not wait for it here.
    socket.setTimeout(300, () => socket.destroy());
    socket.once("connect", () => socket.write(bytes, () => (reset ? socket.resetAndDestroy() : socket.end())));
  });
}

/** The ClientHello node's TLS client sends first, captured from a listener that never answers. */
async function captureClientHello(): Promise<Buffer> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as net.AddressInfo).port;
  const hello = new Promise<Buffer>((resolve) => server.once("connection", (socket) => socket.once("data", (chunk: Buffer) => (resolve(chunk), socket.destroy()))));
  const client = tls.connect({ host: "127.0.0.1", port, servername: "localhost" });
  client.on("error", () => undefined);
  const captured = await hello;
  client.destroy();
  server.close();
  return captured;
}

/** The node answers a GET /v1/models over https with a valid token and the test CA. */
async function expectHttpsServed(): Promise<void> {
  const token = await node.token();
  const status = await new Promise<number | string>((resolve) => {
    https
      .get({ host: "127.0.0.1", port: node.port, path: "/v1/models", ca: pki.ca, headers: { authorization: `Bearer ${token}` } }, (response) => {
        response.resume();
        resolve(response.statusCode ?? 0);
      })
      .on("error", (error: NodeJS.ErrnoException) => resolve(error.code ?? error.message));
  });
  expect(status, node.cli.describe().slice(-3000)).toBe(200);
}

const tlsRecord = (body: Uint8Array) => Buffer.concat([Buffer.from([0x16, 0x03, 0x01, body.length >> 8, body.length & 0xff]), body]);

describe("hostile TLS clients", () => {
  it("survives random bytes and random handshake records, closed or reset", async () => {
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 4096 }), fc.boolean(), fc.boolean(), async (bytes, asRecord, reset) => {
        await sendRaw(node.port, asRecord ? tlsRecord(bytes.subarray(0, 0x3fff)) : bytes, reset);
      }),
      { numRuns: 150 },
    );
    expect(await node.stillAliveAfter(300), node.cli.describe().slice(-3000)).toBe(true);
    await expectHttpsServed();
  });

  it("survives mutated ClientHellos (bytes flipped, truncated, trailing garbage)", async () => {
    const hello = await captureClientHello();
    expect(hello[0]).toBe(0x16);
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.tuple(fc.nat(hello.length - 1), fc.integer({ min: 1, max: 255 })), { maxLength: 8 }),
        fc.nat(hello.length),
        fc.uint8Array({ maxLength: 512 }),
        fc.boolean(),
        async (flips, keep, trailing, reset) => {
          const mutated = Buffer.from(hello);
          for (const [at, mask] of flips) mutated[at] = (mutated[at] as number) ^ mask;
          await sendRaw(node.port, Buffer.concat([mutated.subarray(0, Math.max(keep, 1)), trailing]), reset);
        },
      ),
      { numRuns: 150 },
    );
    expect(await node.stillAliveAfter(300), node.cli.describe().slice(-3000)).toBe(true);
    await expectHttpsServed();
  });

  it("survives 300 real handshakes reset at random points, with and without a client certificate", async () => {
    const alice = pki.client("alice");
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 0, max: 15 }), fc.boolean(), async (delay, withCertificate) => {
        const raw = net.connect(node.port, "127.0.0.1");
        raw.on("error", () => undefined);
        const secure = tls.connect({ socket: raw, ca: pki.ca, servername: "localhost", ...(withCertificate ? alice : {}) });
        secure.on("error", () => undefined);
        await new Promise((resolve) => setTimeout(resolve, delay));
        raw.resetAndDestroy();
        secure.destroy();
      }),
      { numRuns: 300 },
    );
    expect(await node.stillAliveAfter(300), node.cli.describe().slice(-3000)).toBe(true);
    await expectHttpsServed();
  });
});
