// The encrypted SM link over WebSocket end to end: the project's client chats through it; tampering, replay, reordering and a wrong key are refused; no plaintext on the wire.
import { spawn } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { ChatClient, ChatClientError } from "../src/cli/chat-client.js";
import { generateSm2KeyPair } from "../src/security/gm/gm-crypto.js";
import { SmLinkClient, type SmRecordLayer } from "../src/security/gm/sm-link.js";
import { generatedPrivateKeyFile } from "../src/security/gm/sm2-key-files.js";
import { startTcpCapture, webSocketFrames } from "./helpers/tcp-capture.js";
import { startTestNode, testSecret, type TestNode } from "./helpers/test-node.js";
import { configSchema } from "../src/config/schema.js";
import { createDaemon } from "../src/daemon/daemon.js";
import { silentLogger } from "../src/logging/logger.js";
import { issueToken } from "../src/security/jwt-issuer.js";

const secret = "The quick brown fox jumps over the lazy dog";

/** A link opened by hand with the project's link module, for frames no well-behaved client sends. */
async function openRawLink(url: string): Promise<{ socket: WebSocket; records: SmRecordLayer; messages: Buffer[]; closed: Promise<number> }> {
  const socket = new WebSocket(url);
  const messages: Buffer[] = [];
  const closed = new Promise<number>((resolve) => socket.on("close", (code) => resolve(code)));
  await new Promise<void>((resolve, reject) => {
    socket.once("open", () => resolve());
    socket.once("error", reject);
  });
  const link = new SmLinkClient();
  const serverHello = new Promise<string>((resolve) => socket.once("message", (data) => resolve(String(data))));
  socket.send(JSON.stringify(link.hello));
  const { records } = link.finish(await serverHello);
  socket.on("message", (data) => messages.push(data as Buffer));
  return { socket, records, messages, closed };
}

/** Runs only the chat command in a child process with the given stdin. */
function runChatCommand(args: string[], input: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const commandModule = new URL("../src/cli/chat-command.ts", import.meta.url).href;
  const script = [
    `import { Command } from "commander";`,
    `import { registerChatCommand } from ${JSON.stringify(commandModule)};`,
    `const program = new Command("clawbot");`,
    `registerChatCommand(program);`,
    `await program.parseAsync(process.argv.slice(1), { from: "user" });`,
  ].join("\n");
  const child = spawn(process.execPath, ["--import", "tsx", "--input-type=module", "-e", script, "--", "chat", ...args], { env: { ...process.env, CLAWBOT_TOKEN: "" } });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  child.stdin.end(input);
  return new Promise((resolve) => child.on("close", (code) => resolve({ code, stdout, stderr })));
}

describe("encrypted SM link over WebSocket", () => {
  let node: TestNode;
  let serverKey: string;

  beforeAll(async () => {
    node = await startTestNode({ websocket: { encryption: { type: "sm" } } });
    serverKey = node.daemon.gateways[0]?.linkPublicKey as string;
  });
  afterAll(async () => {
    await node?.close();
  });

  it("generated the server key once into the data directory, 0600, and reports its public key", () => {
    expect(serverKey).toMatch(/^04[0-9a-f]{128}$/);
    const file = path.join(node.dataDir, generatedPrivateKeyFile);
    expect(fs.statSync(file).mode & 0o777).toBe(0o600);
    expect(fs.readFileSync(file, "utf8").trim()).toMatch(/^[0-9a-f]{64}$/);
  });

  it("carries a whole chat with the real model, and neither the text, the token nor a JSON key crosses the wire in plain", async () => {
    const capture = await startTcpCapture(Number(new URL(node.wsUrl).port));
    const token = await node.token();
    const client = new ChatClient({ sm: { serverKey } });
    try {
      await client.connect(`ws://127.0.0.1:${capture.port}/`, token);
      const deltas: string[] = [];
      const finish = await client.ask(secret, { max_tokens: 24 }, (text) => deltas.push(text));
      expect(finish.type).toBe("finish");
      expect(finish.usage.completion_tokens).toBe(24);
      expect(deltas.join("")).toBe(finish.text);
      expect(finish.text.length).toBeGreaterThan(10);
      await client.close();
      const up = webSocketFrames(capture.toServer());
      const down = webSocketFrames(capture.toClient());
      const data = (frames: typeof up) => frames.filter((frame) => frame.opcode === 1 || frame.opcode === 2);
      // The hello each way is JSON text; every later data frame is a binary record.
      expect(data(up)[0]?.opcode).toBe(1);
      expect(data(down)[0]?.opcode).toBe(1);
      expect(data(up).slice(1).every((frame) => frame.opcode === 2 && frame.payload[0] === 1)).toBe(true);
      expect(data(down).length).toBeGreaterThan(5);
      expect(data(down).slice(1).every((frame) => frame.opcode === 2 && frame.payload[0] === 1)).toBe(true);
      // The hellos carry only keys and randoms.
      expect(Object.keys(JSON.parse(String(data(up)[0]?.payload))).sort()).toEqual(["key", "random", "type", "version"]);
      expect(Object.keys(JSON.parse(String(data(down)[0]?.payload))).sort()).toEqual(["key", "random", "server_key", "signature", "type", "version"]);
      const wire = Buffer.concat([capture.toServer(), capture.toClient(), ...up.map((frame) => frame.payload), ...down.map((frame) => frame.payload)]);
      for (const needle of [secret, "quick brown", token, finish.text.slice(0, 12), "text-delta", "finish", '"usage"', '"session"', "authenticated"]) {
        expect(wire.includes(needle), needle).toBe(false);
      }
      const sealed = Buffer.concat([...data(up).slice(1), ...data(down).slice(1)].map((frame) => frame.payload));
      for (const needle of ['"type"', '"chat"', '"id"', '"message"']) expect(sealed.includes(needle), needle).toBe(false);
    } finally {
      await client.close();
      await capture.close();
    }
  });

  it("the capture sees plaintext on a plain gateway (the check above can fail)", async () => {
    const plain = await startTestNode({ agent: { engine: "echo" } });
    const capture = await startTcpCapture(Number(new URL(plain.wsUrl).port));
    const client = new ChatClient();
    try {
      await client.connect(`ws://127.0.0.1:${capture.port}/`, await plain.token());
      await client.ask(secret);
      const up = webSocketFrames(capture.toServer()).map((frame) => frame.payload);
      expect(Buffer.concat(up).includes(secret)).toBe(true);
      expect(capture.toClient().includes('"type"')).toBe(true);
    } finally {
      await client.close();
      await capture.close();
      await plain.close();
    }
  });

  it("refuses a pinned server key that is not the server's, before sending anything sealed", async () => {
    const client = new ChatClient({ sm: { serverKey: generateSm2KeyPair().publicKey } });
    const error = await client.connect(node.wsUrl, await node.token()).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(ChatClientError);
    expect((error as ChatClientError).code).toBe("secure_link_failed");
    await client.close();
  });

  it("refuses a replayed record with secure_link_failed and closes 4460", async () => {
    const link = await openRawLink(node.wsUrl);
    const auth = link.records.seal(JSON.stringify({ type: "auth", token: await node.token() }));
    link.socket.send(auth);
    link.socket.send(link.records.seal(JSON.stringify({ type: "ping" })));
    link.socket.send(auth);
    expect(await link.closed).toBe(4460);
    const frames = link.messages.map((message) => JSON.parse(link.records.open(message)) as Record<string, unknown>);
    expect(frames.map((frame) => frame.type)).toEqual(["authenticated", "pong", "error"]);
    expect(frames[2]?.code).toBe("secure_link_failed");
  });

  it("refuses a record with one flipped bit", async () => {
    const link = await openRawLink(node.wsUrl);
    const ping = link.records.seal(JSON.stringify({ type: "ping" }));
    ping[ping.length - 20] = (ping[ping.length - 20] as number) ^ 0x04;
    link.socket.send(ping);
    expect(await link.closed).toBe(4460);
    expect(JSON.parse(link.records.open(link.messages[0] as Buffer)).code).toBe("secure_link_failed");
  });

  it("refuses records sent out of order", async () => {
    const link = await openRawLink(node.wsUrl);
    const first = link.records.seal(JSON.stringify({ type: "ping" }));
    const second = link.records.seal(JSON.stringify({ type: "ping" }));
    link.socket.send(second);
    link.socket.send(first);
    expect(await link.closed).toBe(4460);
  });

  it("refuses a plain JSON frame once the link is up, and a chat before the hello", async () => {
    const link = await openRawLink(node.wsUrl);
    link.socket.send(JSON.stringify({ type: "ping" }));
    expect(await link.closed).toBe(4460);

    const socket = new WebSocket(node.wsUrl);
    const closed = new Promise<number>((resolve) => socket.on("close", (code) => resolve(code)));
    const first = new Promise<string>((resolve) => socket.once("message", (data) => resolve(String(data))));
    socket.once("open", () => socket.send(JSON.stringify({ type: "chat", id: "a", message: secret })));
    expect(JSON.parse(await first)).toMatchObject({ type: "error", code: "secure_link_failed" });
    expect(await closed).toBe(4460);
  });

  it("`clawbot chat --sm --server-key FILE` chats over the link, and exits 1 with secure_link_failed for another key", async () => {
    const keyFile = path.join(node.dataDir, "pinned.pub.hex");
    fs.writeFileSync(keyFile, serverKey);
    const good = await runChatCommand(["--url", node.wsUrl, "--token", await node.token(), "--sm", "--server-key", keyFile, "--max-tokens", "8"], "Once upon a time\n");
    expect(good.code, good.stderr).toBe(0);
    expect(good.stdout.trim().length).toBeGreaterThan(3);
    const wrongFile = path.join(node.dataDir, "wrong.pub.hex");
    fs.writeFileSync(wrongFile, generateSm2KeyPair().publicKey);
    const wrong = await runChatCommand(["--url", node.wsUrl, "--token", await node.token(), "--server-key", wrongFile], "hi\n");
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toContain("secure_link_failed");
    expect(wrong.stdout).toBe("");
  });

  it("keeps the same key across a restart on the same data directory", async () => {
    const again = await startTestNode({ agent: { engine: "echo" }, dataDir: fs.mkdtempSync(path.join(node.dataDir, "restart-")), websocket: { encryption: { type: "sm" } } });
    const first = again.daemon.gateways[0]?.linkPublicKey;
    const dataDir = again.dataDir;
    await again.close();
    const restarted = await startTestNode({ agent: { engine: "echo" }, dataDir, websocket: { encryption: { type: "sm" } } });
    try {
      expect(restarted.daemon.gateways[0]?.linkPublicKey).toBe(first);
    } finally {
      await restarted.close();
    }
  });
});

describe("encrypted SM link over the tcp-ndjson example adapter", () => {
  it("chats with base64 records on lines, and refuses a replayed line with secure_link_failed", async () => {
    const repositoryRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "clawbot-sm-tcp-"));
    const gateway = { type: "custom", protocol: "tcp-ndjson", path: "./examples/gateways/tcp-ndjson.ts", port: 0, auth: { type: "jwt", secret: testSecret }, encryption: { type: "sm" } };
    const config = configSchema.parse({ agent: { engine: "echo", data_dir: dataDir }, gateways: [gateway], metrics: { port: 0 } });
    const daemon = await createDaemon({ config, baseDir: repositoryRoot, logger: silentLogger });
    const socket = new net.Socket();
    try {
      const port = Number((daemon.gateways[0]?.name ?? "").split(":").at(-1));
      const lines: string[] = [];
      const waiters: (() => void)[] = [];
      let buffer = "";
      const closed = new Promise<void>((resolve) => socket.on("close", () => resolve()));
      socket.on("data", (chunk) => {
        buffer += chunk.toString();
        for (let newline = buffer.indexOf("\n"); newline >= 0; newline = buffer.indexOf("\n")) {
          lines.push(buffer.slice(0, newline));
          buffer = buffer.slice(newline + 1);
        }
        waiters.splice(0).forEach((wake) => wake());
      });
      const nextLine = async () => {
        while (lines.length === 0) await new Promise<void>((resolve) => waiters.push(resolve));
        return lines.shift() as string;
      };
      await new Promise<void>((resolve) => socket.connect(port, "127.0.0.1", resolve));
      expect(daemon.gateways[0]?.linkPublicKey).toMatch(/^04[0-9a-f]{128}$/);
      const link = new SmLinkClient(daemon.gateways[0]?.linkPublicKey);
      socket.write(`${JSON.stringify(link.hello)}\n`);
      const { records } = link.finish(await nextLine());
      const sealLine = (frame: object) => `${records.seal(JSON.stringify(frame)).toString("base64")}\n`;
      const nextFrame = async () => JSON.parse(records.open(Buffer.from(await nextLine(), "base64"))) as Record<string, unknown>;
      socket.write(sealLine({ type: "auth", token: await issueToken({ secret: testSecret, subject: "tcp", ttl: "1h" }) }));
      expect(await nextFrame()).toMatchObject({ type: "authenticated", subject: "tcp" });
      const chat = sealLine({ type: "chat", id: "t1", message: secret });
      socket.write(chat);
      let frame = await nextFrame();
      while (frame.type === "text-delta") frame = await nextFrame();
      expect(frame).toMatchObject({ type: "finish", id: "t1" });
      expect(String(frame.text)).toContain(secret);
      socket.write(chat);
      expect(await nextFrame()).toMatchObject({ type: "error", code: "secure_link_failed" });
      await closed;
    } finally {
      socket.destroy();
      await daemon.close();
    }
  });
});
