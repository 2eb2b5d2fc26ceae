// WebSocket authentication over a connection's life: auth_timeout for sockets without a token, close at exp, renewal by auth frame.
import type { Socket } from "node:net";
import { decodeJwt } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { WebsocketGateway } from "../src/gateways/websocket/websocket-gateway.js";
import { startTestNode, type TestNode } from "./helpers/test-node.js";
import { WsTestClient } from "./helpers/ws-test-client.js";

/** 10 MB of echo answer: more than the kernel's socket buffers take from a client that stopped reading. */
const longMessage = Array.from({ length: 20_000 }, () => "y".repeat(499)).join(" ");

describe("websocket token lifetime", () => {
  let node: TestNode;
  let gateway: WebsocketGateway;

  beforeAll(async () => {
    node = await startTestNode({
      agent: { engine: "echo", context_size: 100_000 },
      // No clock skew allowed, so a 2 s token expires after 2 s; half a second to authenticate.
      auth: { clock_tolerance: 0 },
      websocket: { auth_timeout: 0.5, max_payload: 32 * 1024 * 1024, max_buffered: 64 * 1024, slow_client_timeout: 60 },
    });
    gateway = node.daemon.gateways.find((candidate): candidate is WebsocketGateway => candidate instanceof WebsocketGateway) as WebsocketGateway;
  });
  afterAll(async () => node?.close());

  it("counts sockets that have not authenticated and closes them with 4401 after auth_timeout", async () => {
    const silent = await Promise.all([0, 1, 2].map(() => WsTestClient.connect(node.wsUrl)));
    const authenticated = await WsTestClient.connect(node.wsUrl, { token: await node.token("carol") });
    expect(gateway.connectionStats()).toMatchObject({ open: 4, unauthenticated: 3 });
    for (const client of silent) expect((await client.closed).code).toBe(4401);
    await until(() => gateway.connectionStats().open === 1);
    expect(gateway.connectionStats().unauthenticated).toBe(0);
    // The connection that authenticated at upgrade outlives the auth timeout.
    expect((await authenticated.chat("still-open", "hello there", { max_tokens: 4 })).end.type).toBe("finish");
    authenticated.close();
  });

  it("closes a connection with 4401 when its token expires, not before", async () => {
    const token = await node.token("dave", "2s");
    const expiresAt = (decodeJwt(token).exp as number) * 1000;
    const client = await WsTestClient.connect(node.wsUrl, { token });
    expect((await client.chat("before-exp", "hello there", { max_tokens: 4 })).end.type).toBe("finish");
    const closed = await client.closed;
    expect(closed.code).toBe(4401);
    expect(Date.now()).toBeGreaterThanOrEqual(expiresAt);
  });

  it("lets a request running at exp finish, refuses new chats with unauthorized, then closes 4401", async () => {
    const client = await WsTestClient.connect(node.wsUrl);
    const token = await node.token("erin", "2s");
    const expiresAt = (decodeJwt(token).exp as number) * 1000;
    client.send({ type: "auth", token });
    expect(await client.next((frame) => frame.type === "authenticated")).toMatchObject({ subject: "erin", expires_at: new Date(expiresAt).toISOString() });
    // The client stops reading, so its long answer is still being written when the token expires.
    const rawSocket = (client.socket as unknown as { _socket: Socket })._socket;
    rawSocket.pause();
    client.send({ type: "chat", id: "long", message: longMessage, params: { max_tokens: 50_000 } });
    await until(() => node.daemon.pipeline.subjectLimits.requests("erin") === 1);
    await until(() => Date.now() > expiresAt + 200);
    expect(node.daemon.pipeline.subjectLimits.requests("erin")).toBe(1);
    const late = client.result("late");
    const long = client.result("long");
    client.send({ type: "chat", id: "late", message: "hello there", params: { max_tokens: 4 } });
    rawSocket.resume();
    expect((await late).end).toMatchObject({ type: "error", code: "unauthorized" });
    const { deltas, end } = await long;
    expect(end).toMatchObject({ type: "finish", finish_reason: "stop" });
    expect(deltas.join("")).toContain(longMessage);
    expect((await client.closed).code).toBe(4401);
    expect(client.frames.filter((frame) => frame.id === "late" && frame.type === "text-delta")).toEqual([]);
  });

  it("renews an open connection with a fresh auth frame for the same subject", async () => {
    const shortToken = await node.token("frank", "2s");
    const firstExpiry = (decodeJwt(shortToken).exp as number) * 1000;
    const client = await WsTestClient.connect(node.wsUrl, { token: shortToken });
    const renewed = client.next((frame) => frame.type === "authenticated" || frame.type === "error");
    client.send({ type: "auth", token: await node.token("frank", "1h") });
    const answer = await renewed;
    expect(answer).toMatchObject({ type: "authenticated", subject: "frank" });
    expect(Date.parse(String(answer.expires_at))).toBeGreaterThan(firstExpiry + 60_000);
    await until(() => Date.now() > firstExpiry + 500);
    expect((await client.chat("after-first-exp", "hello there", { max_tokens: 4 })).end.type).toBe("finish");
    client.close();
  });

  it("refuses a renewal for another subject with forbidden and keeps the connection", async () => {
    const client = await WsTestClient.connect(node.wsUrl, { token: await node.token("grace") });
    const refused = client.next((frame) => frame.type === "error" || frame.type === "authenticated");
    client.send({ type: "auth", token: await node.token("mallory") });
    expect(await refused).toMatchObject({ type: "error", code: "forbidden" });
    expect((await client.chat("still-grace", "hello there", { max_tokens: 4 })).end.type).toBe("finish");
    // The connection still belongs to grace: a renewal for grace is accepted.
    const renewed = client.next((frame) => frame.type === "authenticated");
    client.send({ type: "auth", token: await node.token("grace") });
    expect(await renewed).toMatchObject({ subject: "grace" });
    client.close();
  });

  it("closes with 4401 when a renewal token is invalid", async () => {
    const client = await WsTestClient.connect(node.wsUrl, { token: await node.token("heidi") });
    client.send({ type: "auth", token: "not.a.token" });
    expect((await client.closed).code).toBe(4401);
  });

  it("counts a raw socket that never sends anything as unauthenticated until it is closed", async () => {
    const socket = new WebSocket(node.wsUrl);
    await new Promise((resolve) => socket.once("open", resolve));
    expect(gateway.connectionStats().unauthenticated).toBe(1);
    const code = await new Promise<number>((resolve) => socket.once("close", (closeCode) => resolve(closeCode)));
    expect(code).toBe(4401);
  });
});

async function until(condition: () => boolean, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error("timed out waiting for a condition");
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
