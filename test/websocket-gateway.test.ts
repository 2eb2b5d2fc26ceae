// The WebSocket gateway end to end against the real test model: streaming, batching, cancel, queue, context, frames, auth.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { SignJWT } from "jose";
import { startTestNode, testSecret, type TestNode } from "./helpers/test-node.js";
import { WsTestClient } from "./helpers/ws-test-client.js";

describe("websocket gateway with the real model", () => {
  let node: TestNode;
  let client: WsTestClient;

  beforeAll(async () => {
    node = await startTestNode({ agent: { parallel: 4, max_queue: 8 } });
    client = await WsTestClient.connect(node.wsUrl, { token: await node.token() });
  });
  afterAll(async () => {
    client?.close();
    await node?.close();
  });

  it("streams an answer whose deltas add up to the finish text", async () => {
    const { deltas, end } = await client.chat("stream-1", "Once upon a time", { max_tokens: 48 });
    expect(end.type).toBe("finish");
    expect(deltas.length).toBeGreaterThan(5);
    expect(deltas.join("")).toBe(end.text);
    expect(String(end.text)).toMatch(/[a-z]{3,}/);
    expect(end.finish_reason).toBe("length");
    expect(end.usage).toEqual({ prompt_tokens: expect.any(Number), completion_tokens: 48, cached_prompt_tokens: expect.any(Number) });
    const timings = end.timings as Record<string, number>;
    expect(timings.ttft_ms).toBeGreaterThan(0);
    expect(timings.total_ms).toBeGreaterThanOrEqual(timings.ttft_ms as number);
  });

  it("gives 4 concurrent requests at temperature 0 exactly the text of one request alone", async () => {
    const prompts = ["Once upon a time", "The little dog", "Lily and Tom went", "One day, a big bird"];
    const alone: string[] = [];
    for (const [index, prompt] of prompts.entries()) {
      alone.push(String((await client.chat(`alone-${index}`, prompt, { max_tokens: 64 })).end.text));
    }
    const together = await Promise.all(prompts.map((prompt, index) => client.chat(`together-${index}`, prompt, { max_tokens: 64 })));
    expect(together.map((result) => result.end.text)).toEqual(alone);
    expect(new Set(alone).size).toBe(4);
  });

  it("answers malformed frames with coded errors and keeps the connection usable", async () => {
    client.send("this is not json");
    expect(await client.next((frame) => frame.type === "error")).toMatchObject({ code: "bad_request", id: null });
    client.send({ type: "launch-rockets", id: "x1" });
    expect(await client.next((frame) => frame.type === "error" && frame.id === "x1")).toMatchObject({ code: "bad_request" });
    client.send({ type: "chat", id: "x2" });
    expect(await client.next((frame) => frame.type === "error" && frame.id === "x2")).toMatchObject({ code: "bad_request" });
    client.send({ type: "chat", id: "x3", message: "hi", params: { max_tokens: -4 } });
    expect(await client.next((frame) => frame.type === "error" && frame.id === "x3")).toMatchObject({ code: "bad_request" });
    client.send({ type: "chat", id: "x4", message: "x".repeat(1024 * 1024 + 10) });
    expect(await client.next((frame) => frame.type === "error" && frame.code === "payload_too_large")).toBeTruthy();
    client.send({ type: "ping" });
    expect(await client.next((frame) => frame.type === "pong")).toBeTruthy();
    const { end } = await client.chat("after-bad-frames", "Once upon a time", { max_tokens: 8 });
    expect(end.type).toBe("finish");
  });

  it("ignores a second request with an id that is still running: the id gets exactly one terminal frame", async () => {
    const first = client.next((frame) => frame.id === "dup" && frame.type === "finish");
    client.send({ type: "chat", id: "dup", message: "Once upon a time", params: { max_tokens: 400 } });
    client.send({ type: "chat", id: "dup", message: "again" });
    expect((await first).finish_reason).toBe("length");
    // Frames are handled in order: once a later request is answered, the duplicate has been seen.
    expect((await client.chat("after-dup", "Once upon a time", { max_tokens: 4 })).end.type).toBe("finish");
    expect(client.frames.filter((frame) => frame.id === "dup" && (frame.type === "finish" || frame.type === "error"))).toHaveLength(1);
  });

  it("stops before a stop string the model generates, without sending any of it", async () => {
    const whole = String((await client.chat("stop-base", "Once upon a time", { max_tokens: 64 })).end.text);
    const stop = "named";
    expect(whole).toContain(stop);
    const { deltas, end } = await client.chat("stop-cut", "Once upon a time", { max_tokens: 64, stop: [stop, "zzz-never"] });
    expect(end).toMatchObject({ type: "finish", finish_reason: "stop" });
    expect(end.text).toBe(whole.slice(0, whole.indexOf(stop)));
    expect(deltas.join("")).toBe(end.text);
  });

  it("refuses a LoRA adapter name that is not applied, naming the problem", async () => {
    const { end } = await client.chat("no-adapter", "Once upon a time", { max_tokens: 4, adapter: "legal-v2" });
    expect(end).toMatchObject({ type: "error", code: "bad_request" });
    expect(String(end.message)).toContain("no LoRA adapter is configured");
  });

  it("refuses a prompt longer than the context with context_length_exceeded", async () => {
    const { end } = await client.chat("too-long", "word ".repeat(5000), { max_tokens: 8 });
    expect(end).toMatchObject({ type: "error", code: "context_length_exceeded" });
  });
});

describe("websocket admission: cancel frees the slot, a full queue refuses at once", () => {
  let node: TestNode;
  let client: WsTestClient;

  beforeAll(async () => {
    node = await startTestNode({ agent: { parallel: 1, max_queue: 1 } });
    client = await WsTestClient.connect(node.wsUrl, { token: await node.token() });
  });
  afterAll(async () => {
    client?.close();
    await node?.close();
  });

  it("cancels mid-stream, after which the queued request starts", async () => {
    const first = client.result("long");
    const firstDelta = client.next((frame) => frame.id === "long" && frame.type === "text-delta");
    client.send({ type: "chat", id: "long", message: "Once upon a time", params: { max_tokens: 1900 } });
    await firstDelta;
    const queued = client.result("queued");
    client.send({ type: "chat", id: "queued", message: "The little dog", params: { max_tokens: 16 } });
    // The queue holds one; a third request is refused at once.
    const refused = await client.chat("refused", "Hello", { max_tokens: 4 });
    expect(refused.end).toMatchObject({ type: "error", code: "overloaded" });
    expect(refused.deltas).toEqual([]);
    client.send({ type: "cancel", id: "long" });
    const cancelled = await first;
    expect(cancelled.end).toMatchObject({ type: "finish", finish_reason: "cancelled" });
    expect((cancelled.end.usage as { completion_tokens: number }).completion_tokens).toBeLessThan(1900);
    const next = await queued;
    expect(next.end).toMatchObject({ type: "finish", finish_reason: "length" });
    expect((next.end.timings as { queue_ms: number }).queue_ms).toBeGreaterThan(0);
  });

  it("frees the sequence when the client disconnects mid-stream", async () => {
    const other = await WsTestClient.connect(node.wsUrl, { token: await node.token() });
    const firstDelta = other.next((frame) => frame.type === "text-delta");
    other.send({ type: "chat", id: "gone", message: "Once upon a time", params: { max_tokens: 1900 } });
    await firstDelta;
    other.socket.terminate();
    const started = performance.now();
    const { end } = await client.chat("after-disconnect", "The little dog", { max_tokens: 8 });
    expect(end.type).toBe("finish");
    expect(performance.now() - started).toBeLessThan(5_000);
  });
});

describe("websocket authentication", () => {
  let node: TestNode;

  beforeAll(async () => {
    node = await startTestNode({ agent: { engine: "echo" } });
  });
  afterAll(async () => node?.close());

  const upgradeStatus = (url: string, headers: Record<string, string> = {}) =>
    new Promise<number>((resolve) => {
      const socket = new WebSocket(url, { headers });
      socket.on("unexpected-response", (_request, response) => resolve(response.statusCode ?? 0));
      socket.on("open", () => {
        socket.close();
        resolve(101);
      });
    });

  it("refuses a bad bearer token with HTTP 401 on upgrade", async () => {
    const forged = await new SignJWT({ sub: "mallory" })
      .setProtectedHeader({ alg: "HS256" })
      .setExpirationTime("1h")
      .sign(new TextEncoder().encode("another-secret-of-sufficient-length!!"));
    expect(await upgradeStatus(node.wsUrl, { authorization: `Bearer ${forged}` })).toBe(401);
    expect(await upgradeStatus(`${node.wsUrl}?token=${forged}`)).toBe(401);
    expect(await upgradeStatus(node.wsUrl, { authorization: `Bearer ${await node.token()}` })).toBe(101);
  });

  it("accepts ?token= and a first auth frame; closes with 4401 on a bad auth frame", async () => {
    const byQuery = await WsTestClient.connect(`${node.wsUrl}?token=${await node.token()}`);
    expect((await byQuery.chat("q", "hello there", { max_tokens: 4 })).end.type).toBe("finish");
    byQuery.close();

    const byFrame = await WsTestClient.connect(node.wsUrl);
    byFrame.send({ type: "auth", token: await node.token("bob") });
    expect(await byFrame.next((frame) => frame.type === "authenticated")).toMatchObject({ subject: "bob" });
    expect((await byFrame.chat("f", "hello there", { max_tokens: 4 })).end.type).toBe("finish");
    byFrame.close();

    const expired = await new SignJWT({ sub: "alice" })
      .setProtectedHeader({ alg: "HS256" })
      .setExpirationTime(Math.floor(Date.now() / 1000) - 3600)
      .sign(new TextEncoder().encode(testSecret));
    const badFrame = await WsTestClient.connect(node.wsUrl);
    badFrame.send({ type: "auth", token: expired });
    expect((await badFrame.closed).code).toBe(4401);
  });

  it("closes with 4401 when a chat comes before authentication, and never runs it", async () => {
    const unauthenticated = await WsTestClient.connect(node.wsUrl);
    unauthenticated.send({ type: "chat", id: "sneaky", message: "hello" });
    expect((await unauthenticated.closed).code).toBe(4401);
    expect(unauthenticated.frames.filter((frame) => frame.type === "text-delta")).toEqual([]);
  });
});

describe("websocket cancel while queued", () => {
  it("ends a request cancelled in the queue with finish_reason cancelled", async () => {
    const node = await startTestNode({ agent: { parallel: 1, max_queue: 4 } });
    const client = await WsTestClient.connect(node.wsUrl, { token: await node.token() });
    const running = client.result("running");
    const firstDelta = client.next((frame) => frame.id === "running" && frame.type === "text-delta");
    client.send({ type: "chat", id: "running", message: "Once upon a time", params: { max_tokens: 1900 } });
    await firstDelta;
    const waiting = client.result("waiting");
    client.send({ type: "chat", id: "waiting", message: "The little dog", params: { max_tokens: 8 } });
    client.send({ type: "cancel", id: "waiting" });
    expect((await waiting).end).toMatchObject({ type: "finish", finish_reason: "cancelled", text: "", usage: { completion_tokens: 0 } });
    client.send({ type: "cancel", id: "running" });
    expect((await running).end).toMatchObject({ type: "finish", finish_reason: "cancelled" });
    client.close();
    await node.close();
  });
});

describe("websocket heartbeat", () => {
  it("closes a peer that stops answering pings, and keeps one that answers", async () => {
    const node = await startTestNode({ agent: { engine: "echo" }, websocket: { ping_interval: 0.2 } });
    const token = await node.token();
    const silent = new WebSocket(node.wsUrl, { headers: { authorization: `Bearer ${token}` }, autoPong: false });
    const silentClosed = new Promise<number>((resolve) => silent.once("close", (code) => resolve(code)));
    const alive = await WsTestClient.connect(node.wsUrl, { token });
    // terminate() drops the TCP connection without a close frame: the client sees 1006.
    expect(await silentClosed).toBe(1006);
    // The peer that answers pings is still served after several intervals.
    const { end } = await alive.chat("still-here", "hello there", { max_tokens: 4 });
    expect(end.type).toBe("finish");
    alive.close();
    await node.close();
  });
});
