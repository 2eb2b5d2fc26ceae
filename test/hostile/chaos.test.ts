// Chaos against a real node: upgrades reset mid-verification, slowloris, clients that never read, clients that vanish.
import net from "node:net";
import { randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import WebSocket from "ws";
import { expectHttpServed, expectWebsocketServed, type HostileNode } from "../helpers/hostile-node.js";
import { type TokenSet } from "./hostile-inputs.js";
import { useHostileNode } from "./use-hostile-node.js";

let node: HostileNode;
let tokens: TokenSet;

useHostileNode(
  () => ({
    websocket: { slow_client_timeout: 2, max_buffered: 256 * 1024 },
    http: { slow_client_timeout: 2, max_buffered: 256 * 1024 },
    agent: { max_tokens: 4000, parallel: 8, max_queue: 256 },
  }),
  (started, startedTokens) => ([node, tokens] = [started, startedTokens]),
);

function upgradeRequest(port: number, token: string, path = "/"): string {
  return (
    `GET ${path} HTTP/1.1\r\nhost: 127.0.0.1:${port}\r\nupgrade: websocket\r\nconnection: Upgrade\r\n` +
    `sec-websocket-version: 13\r\nsec-websocket-key: ${randomBytes(16).toString("base64")}\r\nauthorization: Bearer ${token}\r\n\r\n`
  );
}

function connected(socket: net.Socket): Promise<void> {
  return new Promise((resolve, reject) => {
    socket.once("connect", () => resolve());
    socket.once("error", reject);
  });
}

const sleep = (milliseconds: number) => new Promise((resolve) => setTimeout(resolve, milliseconds));

/** A long echo question: the answer repeats it word by word, each word `wordLength` bytes. */
function longMessage(words: number, wordLength: number): string {
  return Array.from({ length: words }, (_, index) => `${String(index).padEnd(wordLength, "x")} `).join("");
}

describe("chaos", () => {
  it("survives 1,000 upgrades with a badly signed token, each reset while the token is verified", async () => {
    for (let batch = 0; batch < 20; batch += 1) {
      await Promise.all(
        Array.from({ length: 50 }, async () => {
          const socket = net.connect(node.port, "127.0.0.1");
          socket.on("error", () => undefined);
          // A connection refused here means the node is gone: the check below says so with its output.
          if (await connected(socket).then(() => true, () => false)) {
            socket.write(upgradeRequest(node.port, tokens.badSignature), () => socket.resetAndDestroy());
          }
        }),
      );
      expect(await node.stillAliveAfter(20), `the node exited after ${(batch + 1) * 50} reset upgrades\n${node.cli.describe().slice(-3000)}`).toBe(true);
    }
    expect(await node.stillAliveAfter(1_000), node.cli.describe().slice(-3000)).toBe(true);
    await expectWebsocketServed(node);
    await expectHttpServed(node);
  });

  it("serves a normal client while 200 slowloris sockets trickle their headers one byte a second", async () => {
    const sockets = await Promise.all(
      Array.from({ length: 200 }, async (_, index) => {
        const socket = net.connect(node.port, "127.0.0.1");
        socket.on("error", () => undefined);
        await connected(socket);
        // Half HTTP requests, half WebSocket upgrades, each stopped in the middle of a header.
        const start = index % 2 === 0 ? "GET /healthz HTTP/1.1\r\nhost: 127.0.0.1\r\nx-slow: " : upgradeRequest(node.port, tokens.valid).slice(0, 120);
        socket.write(start);
        return socket;
      }),
    );
    const trickle = setInterval(() => {
      for (const socket of sockets) if (socket.writable) socket.write("a");
    }, 1_000);
    try {
      await sleep(2_000);
      await expectWebsocketServed(node);
      await expectHttpServed(node);
      await sleep(1_000);
      await expectWebsocketServed(node);
    } finally {
      clearInterval(trickle);
      for (const socket of sockets) socket.destroy();
    }
    expect(await node.stillAliveAfter(500), node.cli.describe().slice(-3000)).toBe(true);
  });

  it("serves a normal client while other clients never read their streamed answers", async () => {
    const message = longMessage(3_000, 300);
    const token = await node.token("greedy");
    const readers: WebSocket[] = [];
    const sseSockets: net.Socket[] = [];
    for (let index = 0; index < 10; index += 1) {
      const socket = new WebSocket(node.wsUrl, { headers: { authorization: `Bearer ${await node.token(`greedy-${index}`)}` } });
      socket.on("error", () => undefined);
      await new Promise((resolve) => socket.once("open", resolve));
      for (let request = 0; request < 3; request += 1) socket.send(JSON.stringify({ type: "chat", id: `g${request}`, message }));
      // Stop reading: the kernel buffers fill and the server's writes pile up unless it holds back.
      (socket as unknown as { _socket: net.Socket })._socket.pause();
      readers.push(socket);
    }
    for (let index = 0; index < 10; index += 1) {
      const socket = net.connect(node.port, "127.0.0.1");
      socket.on("error", () => undefined);
      await connected(socket);
      const body = JSON.stringify({ model: "echo", stream: true, messages: [{ role: "user", content: message }] });
      socket.write(
        `POST /v1/chat/completions HTTP/1.1\r\nhost: 127.0.0.1\r\nauthorization: Bearer ${token}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
      );
      socket.pause();
      sseSockets.push(socket);
    }
    try {
      await sleep(1_000);
      await expectWebsocketServed(node, undefined, 60_000);
      await expectHttpServed(node, undefined, 60_000);
      // Past slow_client_timeout, the stuck answers are cancelled; the node must still be up, serving, and not bloated.
      await sleep(3_000);
      await expectWebsocketServed(node, undefined, 60_000);
      expect(node.rssBytes(), "node RSS with ten non-reading WebSocket and ten non-reading SSE clients").toBeLessThan(1024 ** 3);
    } finally {
      for (const socket of readers) socket.terminate();
      for (const socket of sseSockets) socket.destroy();
    }
    expect(await node.stillAliveAfter(500), node.cli.describe().slice(-3000)).toBe(true);
  });

  it("survives 200 clients that connect, ask and vanish without closing", async () => {
    const token = tokens.valid;
    await Promise.all(
      Array.from({ length: 200 }, async (_, index) => {
        if (index % 2 === 0) {
          const socket = new WebSocket(node.wsUrl, { headers: { authorization: `Bearer ${token}` } });
          socket.on("error", () => undefined);
          await new Promise((resolve) => socket.once("open", resolve));
          socket.send(JSON.stringify({ type: "chat", id: "gone", message: longMessage(200, 10) }));
          // No close frame: the TCP connection just goes.
          (socket as unknown as { _socket: net.Socket })._socket.destroy();
        } else {
          const socket = net.connect(node.port, "127.0.0.1");
          socket.on("error", () => undefined);
          await connected(socket);
          const body = JSON.stringify({ model: "echo", stream: index % 4 === 1, messages: [{ role: "user", content: longMessage(200, 10) }] });
          socket.write(`POST /v1/chat/completions HTTP/1.1\r\nhost: 127.0.0.1\r\nauthorization: Bearer ${token}\r\ncontent-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
          socket.destroy();
        }
      }),
    );
    expect(await node.stillAliveAfter(1_000), node.cli.describe().slice(-3000)).toBe(true);
    await expectWebsocketServed(node);
    await expectHttpServed(node);
  });
});
