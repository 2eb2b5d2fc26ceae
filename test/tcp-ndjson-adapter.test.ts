// The example custom protocol adapter (JSON lines over TCP), loaded from its file by a custom gateway entry; the exposure rule for custom gateways.
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { configSchema } from "../src/config/schema.js";
import { createDaemon, type Daemon } from "../src/daemon/daemon.js";
import { silentLogger } from "../src/logging/logger.js";
import { issueToken } from "../src/security/jwt-issuer.js";
import { testModelPath } from "./helpers/test-model.js";
import { testSecret } from "./helpers/test-node.js";

const repositoryRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const adapterEntry = { type: "custom", protocol: "tcp-ndjson", path: "./examples/gateways/tcp-ndjson.ts", port: 0, max_line: 4096, auth: { type: "jwt", secret: testSecret } };

async function start(gateway: Record<string, unknown>, engine = "llama"): Promise<Daemon> {
  const config = configSchema.parse({ agent: { engine, temperature: 0, data_dir: fs.mkdtempSync(path.join(os.tmpdir(), "clawbot-tcp-")) }, gateways: [gateway], metrics: { port: 0 } });
  return createDaemon({ config, baseDir: repositoryRoot, modelPath: engine === "llama" ? await testModelPath() : undefined, logger: silentLogger });
}

/** A line-oriented client: send frames, read frames. */
class LineClient {
  readonly frames: Record<string, unknown>[] = [];
  private buffer = "";
  private waiters: (() => void)[] = [];
  readonly closed: Promise<void>;

  constructor(readonly socket: net.Socket) {
    socket.setEncoding("utf8");
    socket.on("data", (chunk: string) => {
      this.buffer += chunk;
      for (let newline = this.buffer.indexOf("\n"); newline >= 0; newline = this.buffer.indexOf("\n")) {
        this.frames.push(JSON.parse(this.buffer.slice(0, newline)));
        this.buffer = this.buffer.slice(newline + 1);
      }
      for (const wake of this.waiters.splice(0)) wake();
    });
    this.closed = new Promise((resolve) => socket.on("close", () => resolve()));
  }

  static connect(port: number): Promise<LineClient> {
    return new Promise((resolve, reject) => {
      const socket = net.connect(port, "127.0.0.1", () => resolve(new LineClient(socket)));
      socket.once("error", reject);
    });
  }

  send(line: string | object): void {
    this.socket.write(`${typeof line === "string" ? line : JSON.stringify(line)}\n`);
  }

  async next(predicate: (frame: Record<string, unknown>) => boolean): Promise<Record<string, unknown>> {
    for (;;) {
      const found = this.frames.find(predicate);
      if (found) return found;
      await new Promise<void>((resolve) => this.waiters.push(resolve));
    }
  }
}

describe("tcp-ndjson example adapter", () => {
  let daemon: Daemon;
  let port: number;

  beforeAll(async () => {
    daemon = await start(adapterEntry);
    port = Number(/:(\d+)$/.exec(daemon.gateways[0]?.name ?? "")?.[1]);
  });
  afterAll(async () => daemon?.close());

  it("authenticates with a first frame and streams an answer from the real model", async () => {
    const client = await LineClient.connect(port);
    client.send({ type: "auth", token: await issueToken({ secret: testSecret, subject: "tcp-user", ttl: "5m" }) });
    client.send({ type: "chat", id: "t1", message: "Once upon a time", params: { max_tokens: 24 } });
    const finish = await client.next((frame) => frame.type === "finish");
    expect(client.frames[0]).toEqual({ type: "authenticated", subject: "tcp-user" });
    const deltas = client.frames.filter((frame) => frame.type === "text-delta").map((frame) => frame.text);
    expect(deltas.length).toBeGreaterThan(3);
    expect(deltas.join("")).toBe(finish.text);
    expect(finish).toMatchObject({ id: "t1", finish_reason: "length", usage: { completion_tokens: 24 } });
    client.socket.end();
  });

  it("answers bad lines with coded errors, refuses chats before auth, and closes on a bad token", async () => {
    const client = await LineClient.connect(port);
    client.send("{not json");
    expect(await client.next((frame) => frame.type === "error")).toMatchObject({ code: "bad_request", id: null });
    client.send({ type: "chat", id: "early", message: "hi" });
    expect(await client.next((frame) => frame.id === "early")).toMatchObject({ type: "error", code: "unauthorized" });
    client.send("x".repeat(5000));
    expect(await client.next((frame) => frame.code === "payload_too_large")).toBeTruthy();
    client.send({ type: "ping" });
    expect(await client.next((frame) => frame.type === "pong")).toBeTruthy();
    client.send({ type: "auth", token: "not-a-token" });
    expect(await client.next((frame) => frame.type === "error" && frame.code === "unauthorized" && frame.id === null)).toBeTruthy();
    await client.closed;
  });

  it("refuses at start an adapter whose protocol differs from the entry, and unknown adapter options", async () => {
    await expect(start({ ...adapterEntry, protocol: "something-else" }, "echo")).rejects.toThrow(/implements protocol "tcp-ndjson", but the config names "something-else"/);
    await expect(start({ ...adapterEntry, colour: "blue" }, "echo")).rejects.toThrow(/gateways\[0\]: unknown key "colour"/);
    await expect(start({ ...adapterEntry, path: "./examples/gateways/missing.ts" }, "echo")).rejects.toThrow(/Cannot load gateway adapter .*missing\.ts/);
  });

  it("refuses an unauthenticated custom gateway on a non-loopback host, like the built-ins", async () => {
    await expect(start({ ...adapterEntry, host: "0.0.0.0", auth: { type: "none" } }, "echo")).rejects.toThrow(
      /gateways\[0\] \(tcp-ndjson on 0\.0\.0\.0\): binding to 0\.0\.0\.0 with auth disabled is refused/,
    );
    const directory = fs.mkdtempSync(path.join(os.tmpdir(), "clawbot-adapter-"));
    try {
      // An adapter that never checks tokens: refused off loopback even with auth configured, accepted on loopback.
      const openDoor = path.join(directory, "open-door.mjs");
      const gateway = `{ name: "open-door", start: async () => {}, stop: async () => {} }`;
      fs.writeFileSync(openDoor, `export default { protocol: "open-door", exposure: (options) => ({ host: options.host, authenticates: false }), create: () => (${gateway}) };\n`);
      const entry = { type: "custom", protocol: "open-door", path: openDoor, auth: { type: "jwt", secret: testSecret } };
      await expect(start({ ...entry, host: "192.0.2.1" }, "echo")).rejects.toThrow(/does not authenticate its clients, so binding to 192\.0\.2\.1 is refused/);
      await expect(start({ ...entry, host: "::" }, "echo")).rejects.toThrow(/refused/);
      const loopback = await start({ ...entry, host: "127.0.0.1" }, "echo");
      await loopback.close();
      // An adapter that does not say where it listens is refused when it loads.
      const silent = path.join(directory, "silent.mjs");
      fs.writeFileSync(silent, `export default { protocol: "silent", create: () => (${gateway}) };\n`);
      await expect(start({ type: "custom", protocol: "silent", path: silent }, "echo")).rejects.toThrow(/must declare exposure/);
    } finally {
      fs.rmSync(directory, { recursive: true, force: true });
    }
  });
});
