// Requests that used to stop the node: unparseable targets on the HTTP and upgrade paths, and upgrades reset mid-verification.
import net from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { isErrorCode } from "../src/core/errors.js";
import { issueToken } from "../src/security/jwt-issuer.js";
import { rawRequest, type RawResponse } from "./helpers/raw-http.js";
import { startTestNode, type TestNode } from "./helpers/test-node.js";

/** Targets `new URL()` throws on, or that no router has a route for. */
const hostileTargets = ["//", "//[", "/%", "/%zz", "*", "http://[::1", "//healthz", "/healthz/..%2f..%2f", `/${"a".repeat(8000)}`];

const upgradeHeaders = "upgrade: websocket\r\nconnection: Upgrade\r\nsec-websocket-version: 13\r\nsec-websocket-key: dGhlIHNhbXBsZSBub25jZQ==\r\n";

describe("hostile request targets and upgrades", () => {
  let node: TestNode;
  let port: number;

  beforeAll(async () => {
    node = await startTestNode({ agent: { engine: "echo" } });
    port = Number(new URL(node.httpUrl).port);
  });
  afterAll(async () => node?.close());

  async function expectCoded(bytes: string, what: string): Promise<RawResponse> {
    const result = await rawRequest(port, bytes);
    expect(result.kind, `${what}: ${JSON.stringify(result)}`).toBe("response");
    const response = result as RawResponse;
    expect(response.status, what).toBeGreaterThanOrEqual(400);
    const body = JSON.parse(response.body.toString("utf8")) as { error?: { code?: string; message?: string } };
    expect(isErrorCode(body.error?.code ?? ""), `${what}: ${response.body.toString("utf8")}`).toBe(true);
    expect(body.error?.message, what).toEqual(expect.any(String));
    return response;
  }

  async function expectHealthy(): Promise<void> {
    const health = await fetch(`${node.httpUrl}/healthz`);
    expect(health.status).toBe(200);
    expect(await health.json()).toEqual({ status: "ok" });
  }

  it("answers each bad target on the HTTP path with a coded JSON error and stays up", async () => {
    for (const target of hostileTargets) {
      await expectCoded(`GET ${target} HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n`, `GET ${target.slice(0, 40)}`);
      await expectCoded(`POST ${target} HTTP/1.1\r\nhost: x\r\ncontent-length: 2\r\nconnection: close\r\n\r\n{}`, `POST ${target.slice(0, 40)}`);
    }
    await expectHealthy();
  });

  it("answers each bad target on the WebSocket upgrade path with a coded JSON error and stays up", async () => {
    for (const target of hostileTargets) {
      const response = await expectCoded(`GET ${target} HTTP/1.1\r\nhost: x\r\n${upgradeHeaders}\r\n`, `upgrade ${target.slice(0, 40)}`);
      expect(response.status).not.toBe(101);
    }
    await expectHealthy();
  });

  it("answers handshakes ws would refuse (no key, bad version, wrong method) with coded JSON, not ws's plain text", async () => {
    const noKey = await expectCoded("GET / HTTP/1.1\r\nhost: x\r\nupgrade: websocket\r\nconnection: Upgrade\r\n\r\n", "upgrade without key");
    expect(noKey.status).toBe(400);
    const badVersion = upgradeHeaders.replace("sec-websocket-version: 13", "sec-websocket-version: 99");
    expect((await expectCoded(`GET / HTTP/1.1\r\nhost: x\r\n${badVersion}\r\n`, "upgrade with version 99")).status).toBe(400);
    const post = await expectCoded(`POST / HTTP/1.1\r\nhost: x\r\n${upgradeHeaders}content-length: 0\r\n\r\n`, "POST upgrade");
    expect(post.status).toBe(405);
    await expectHealthy();
  });

  it("survives hundreds of upgrades with a badly signed token, each reset while the token is verified", async () => {
    const forged = await issueToken({ secret: "another-secret-0123456789-abcdefghijkl", subject: "mallory", roles: ["user"], ttl: "1h" });
    const request = `GET /?token=${forged} HTTP/1.1\r\nhost: x\r\n${upgradeHeaders}authorization: Bearer ${forged}\r\n\r\n`;
    const resetOnce = () =>
      new Promise<void>((resolve) => {
        const socket = net.connect(port, "127.0.0.1");
        socket.on("error", () => undefined);
        socket.on("close", () => resolve());
        socket.on("connect", () => {
          socket.write(request);
          socket.resetAndDestroy();
        });
      });
    for (let batch = 0; batch < 15; batch += 1) {
      await Promise.all(Array.from({ length: 20 }, resetOnce));
    }
    await expectHealthy();
    // A rightly signed upgrade is still served.
    const socket = new WebSocket(node.wsUrl, { headers: { authorization: `Bearer ${await node.token()}` } });
    await new Promise<void>((resolve, reject) => {
      socket.once("open", () => resolve());
      socket.once("error", reject);
    });
    socket.terminate();
  });
});
