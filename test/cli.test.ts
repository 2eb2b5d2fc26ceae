// End to end: the real `clawbot` command (node bin/clawbot.js) in child processes — first run, init/token/chat,
// the seed's config files, bad inputs and graceful shutdown on SIGTERM.
import { randomBytes } from "node:crypto";
import fs from "node:fs";
import http from "node:http";
import type { AddressInfo } from "node:net";
import path from "node:path";
import OpenAI from "openai";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import YAML from "yaml";
import { issueToken } from "../src/security/jwt-issuer.js";
import { freePort, killAll, removeTempDirs, runCli, sandboxEnv, spawnCli, tempDir, waitUntilReady, type CliProcess } from "./helpers/cli-process.js";
import { testModelPath } from "./helpers/test-model.js";
import { WsTestClient } from "./helpers/ws-test-client.js";

const jwtPattern = /^[\w-]+\.[\w-]+\.[\w-]+$/;

let modelPath: string;
const sockets: WsTestClient[] = [];

beforeAll(async () => {
  modelPath = await testModelPath();
});

afterEach(async () => {
  for (const socket of sockets.splice(0)) socket.socket.terminate();
  await killAll();
});

afterAll(async () => {
  await killAll();
  removeTempDirs();
});

/** SIGTERM, then the exit code (the node drains and exits 0). */
async function stop(cli: CliProcess): Promise<number | null> {
  cli.child.kill("SIGTERM");
  const exit = await cli.exited;
  return exit.code;
}

async function connect(url: string, token: string): Promise<WsTestClient> {
  const client = await WsTestClient.connect(url, { token });
  sockets.push(client);
  return client;
}

async function complete(httpUrl: string, token: string): Promise<string> {
  const client = new OpenAI({ baseURL: httpUrl, apiKey: token, maxRetries: 0, timeout: 20_000 });
  const completion = await client.chat.completions.create({
    model: "stories260K",
    messages: [{ role: "user", content: "Once upon a time" }],
    max_tokens: 24,
    temperature: 0,
  });
  return completion.choices[0]?.message.content ?? "";
}

/** A local stand-in for the model host: serves the test model at /stories260K.gguf and counts the GETs. */
async function startModelServer(file: string): Promise<{ url: string; gets: () => number; close: () => Promise<void> }> {
  let gets = 0;
  const size = fs.statSync(file).size;
  const server = http.createServer((request, response) => {
    if (request.url !== "/stories260K.gguf") return void response.writeHead(404).end();
    if (request.method === "GET") gets += 1;
    response.writeHead(200, { "content-type": "application/octet-stream", "content-length": String(size) });
    if (request.method === "HEAD") return void response.end();
    fs.createReadStream(file).pipe(response);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/stories260K.gguf`,
    gets: () => gets,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

describe("first run with nothing configured", () => {
  let modelServer: Awaited<ReturnType<typeof startModelServer>>;

  beforeAll(async () => {
    modelServer = await startModelServer(modelPath);
  });
  afterAll(async () => {
    await modelServer?.close();
  });

  it("downloads the default model once, prints URLs and a working token, and keeps its secret across restarts", async () => {
    const root = tempDir();
    const cwd = path.join(root, "work");
    fs.mkdirSync(cwd);
    const env = sandboxEnv(root, { CLAWBOT_DEFAULT_MODEL: modelServer.url });
    const port = await freePort();

    const first = spawnCli(["start", "--port", String(port)], { cwd, env });
    const httpUrl = `http://127.0.0.1:${port}/v1`;
    const ready = await waitUntilReady(first);
    expect(modelServer.gets()).toBe(1);
    expect(ready.wsUrl).toBe(`ws://127.0.0.1:${port}/`);
    expect(ready.httpUrl).toBe(httpUrl);
    expect(ready.token).toMatch(jwtPattern);
    expect(ready.chatLine).toBe(`Chat: npx clawbot chat --url ws://127.0.0.1:${port}/ --token ${ready.token}`);
    // The web chat takes the token from the URL fragment (which the browser never sends to the server).
    expect(ready.webLine).toBe(`Web: http://127.0.0.1:${port}/#token=${ready.token}`);
    expect(fs.existsSync(path.join(root, "models-cache", "stories260K.gguf"))).toBe(true);
    const secretFile = path.join(root, "clawbot-home", "jwt-secret");
    const secret = fs.readFileSync(secretFile, "utf8");
    // The secret and the data beside it are the node's own user's alone.
    expect(fs.statSync(secretFile).mode & 0o777).toBe(0o600);
    expect(fs.statSync(path.dirname(secretFile)).mode & 0o777).toBe(0o700);

    const token = ready.token!;
    expect(await complete(httpUrl, token)).toMatch(/[a-z]{2}/i);
    const readiness = await fetch(`http://127.0.0.1:${port}/readyz`);
    expect(readiness.status).toBe(200);
    expect(await readiness.json()).toMatchObject({ status: "ready", model: "stories260K" });
    expect(await stop(first)).toBe(0);

    const second = spawnCli(["start", "--port", String(port)], { cwd, env });
    expect((await waitUntilReady(second)).httpUrl).toBe(httpUrl);
    expect(modelServer.gets()).toBe(1);
    expect(fs.readFileSync(secretFile, "utf8")).toBe(secret);
    expect(await complete(httpUrl, token)).toMatch(/[a-z]{2}/i);
    expect(await stop(second)).toBe(0);
  });
});

describe("init, token issue and chat", () => {
  it("writes a starter config, refuses to overwrite it, and serves it to a token-holding chat client", async () => {
    const cwd = tempDir();
    const env = sandboxEnv(cwd);
    const configFile = path.join(cwd, "clawbot.yaml");

    const init = await runCli(["init"], { cwd, env });
    expect(init.code, init.stderr).toBe(0);
    expect(init.stdout).toContain("Wrote clawbot.yaml");
    expect(init.stdout).toContain("npx clawbot start --config clawbot.yaml");
    expect(init.stdout).toContain("npx clawbot token issue --config clawbot.yaml");
    const written = fs.readFileSync(configFile, "utf8");
    const parsed = YAML.parse(written) as { gateways: { auth: { secret: string } }[] };
    const secrets = parsed.gateways.map((gateway) => gateway.auth.secret);
    expect(new Set(secrets).size).toBe(1);
    expect(Buffer.from(secrets[0]!, "base64url").length).toBeGreaterThanOrEqual(32);
    expect(fs.statSync(configFile).mode & 0o077).toBe(0);

    const again = await runCli(["init"], { cwd, env });
    expect(again.code).toBe(1);
    expect(again.stderr).toContain("clawbot.yaml already exists");
    expect(fs.readFileSync(configFile, "utf8")).toBe(written);

    const port = await freePort();
    const node = spawnCli(["start", "--config", "clawbot.yaml", "--model", modelPath, "--port", String(port)], { cwd, env });
    const ready = await waitUntilReady(node);
    // The ready block's own token (1 hour) is signed with the config's secret; more come from token issue.
    expect(ready.token).toMatch(jwtPattern);

    const issued = await runCli(["token", "issue", "--config", "clawbot.yaml", "--sub", "alice", "--role", "user", "--ttl", "1h"], { cwd, env });
    expect(issued.code, issued.stderr).toBe(0);
    const token = issued.stdout.trim();
    expect(token).toMatch(jwtPattern);

    const chat = await runCli(["chat", "--url", `ws://127.0.0.1:${port}`, "--token", token, "--max-tokens", "40"], {
      cwd,
      env,
      stdin: "Once upon a time\n",
    });
    expect(chat.code, chat.stderr).toBe(0);
    expect(chat.stdout).toMatch(/[a-z]{2,}/i);
    expect(chat.stderr).toMatch(/\d+ tokens/);

    // --scope admin: a token for the admin API and the operator console; the user's token is refused there.
    const admin = await runCli(["token", "issue", "--config", "clawbot.yaml", "--sub", "ops", "--scope", "admin", "--ttl", "10m"], { cwd, env });
    expect(admin.code, admin.stderr).toBe(0);
    const status = (bearer: string) => fetch(`http://127.0.0.1:${port}/admin/status`, { headers: { authorization: `Bearer ${bearer}` } });
    expect((await status(admin.stdout.trim())).status).toBe(200);
    expect((await status(token)).status).toBe(403);
    expect(await stop(node)).toBe(0);
  });

  it("init --force replaces the file and makes it private; an unwritable path is a one-line error", async () => {
    const cwd = tempDir();
    const env = sandboxEnv(cwd);
    const configFile = path.join(cwd, "clawbot.yaml");
    fs.writeFileSync(configFile, "# old\n", { mode: 0o644 });
    fs.chmodSync(configFile, 0o644);

    const forced = await runCli(["init", "--force"], { cwd, env });
    expect(forced.code, forced.stderr).toBe(0);
    expect(fs.readFileSync(configFile, "utf8")).toContain("gateways:");
    expect(fs.statSync(configFile).mode & 0o777).toBe(0o600);

    const unwritable = await runCli(["init", "--output", "no-such-dir/clawbot.yaml"], { cwd, env });
    expect(unwritable.code).toBe(1);
    expect(unwritable.stderr).toMatch(/^cannot write no-such-dir\/clawbot\.yaml: ENOENT/);
    expect(unwritable.stderr).not.toMatch(/^\s+at /m);
  });
});

describe("the seed's agent.yaml and gateways.json", () => {
  const seedAgent = `agent:
  model_path: ./models/llama-7b-q4.gguf
  max_tokens: 2048
  temperature: 0.7
  system_prompt: "您是专业的技术顾问..."
`;
  const websocketGateway = { type: "websocket", port: 8080, auth: { type: "jwt", secret: "your-secret-key" } };
  const mqttGateway = { type: "custom", protocol: "enterprise_mqtt", broker: "tcp://broker.example:1883", qos: 1 };
  let cwd: string;
  let env: NodeJS.ProcessEnv;

  beforeAll(() => {
    cwd = tempDir();
    env = sandboxEnv(cwd);
    fs.mkdirSync(path.join(cwd, "models"));
    fs.copyFileSync(modelPath, path.join(cwd, "models", "llama-7b-q4.gguf"));
    fs.writeFileSync(path.join(cwd, "agent.yaml"), seedAgent);
    fs.writeFileSync(path.join(cwd, "gateways.json"), JSON.stringify({ gateways: [websocketGateway] }, null, 2));
    fs.writeFileSync(path.join(cwd, "gateways-full.json"), JSON.stringify({ gateways: [websocketGateway, mqttGateway] }, null, 2));
  });

  it("refuses the placeholder JWT secret", async () => {
    const port = await freePort();
    const result = await runCli(["start", "--agent", "agent.yaml", "--gateways", "gateways.json", "--port", String(port)], { cwd, env });
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/auth\.secret is the placeholder your-secret-key/);
    expect(result.stderr).toContain("--insecure-dev");
    expect(result.stdout).not.toContain("Clawbot is ready");
  });

  it("starts with --insecure-dev and warns loudly", async () => {
    const port = await freePort();
    const node = spawnCli(["start", "--agent", "agent.yaml", "--gateways", "gateways.json", "--port", String(port), "--insecure-dev"], { cwd, env });
    const wsUrl = `ws://127.0.0.1:${port}/`;
    const ready = await waitUntilReady(node);
    expect(ready.wsUrl).toBe(wsUrl);
    expect(ready.httpUrl).toBeUndefined();
    await node.waitFor(/INSECURE/, { stream: "stderr", timeoutMs: 5_000 });
    await node.waitFor(/WARNING: --insecure-dev/, { stream: "stderr", timeoutMs: 5_000 });
    const token = await issueToken({ secret: "your-secret-key", subject: "dev", roles: ["user"], ttl: "5m" });
    const client = await connect(wsUrl, token);
    const { end } = await client.chat("c1", "Once upon a time", { max_tokens: 16, temperature: 0 });
    expect(end).toMatchObject({ type: "finish", id: "c1" });
    expect(await stop(node)).toBe(0);
  });

  it("starts the full seed gateways: enterprise_mqtt retries its unreachable broker while WebSocket serves", async () => {
    const port = await freePort();
    const args = ["start", "--agent", "agent.yaml", "--gateways", "gateways-full.json", "--port", String(port), "--insecure-dev"];
    const node = spawnCli(args, { cwd, env });
    const ready = await waitUntilReady(node);
    expect(node.stdout()).toContain("mqtt tcp://broker.example:1883");
    const client = await connect(ready.wsUrl as string, await issueToken({ secret: "your-secret-key", subject: "alice", ttl: "1h" }));
    const { end } = await client.chat("c2", "Once upon a time", { max_tokens: 8, temperature: 0 });
    expect(end).toMatchObject({ type: "finish", id: "c2" });
    client.close();
    expect(await stop(node)).toBe(0);
  });

  it("names a custom protocol that no adapter registers", async () => {
    const port = await freePort();
    fs.writeFileSync(path.join(cwd, "gateways-unknown.json"), JSON.stringify({ gateways: [websocketGateway, { ...mqttGateway, protocol: "enterprise_amqp" }] }));
    const args = ["start", "--agent", "agent.yaml", "--gateways", "gateways-unknown.json", "--port", String(port), "--insecure-dev"];
    const result = await runCli(args, { cwd, env });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(`Gateway protocol "enterprise_amqp" is not available`);
    expect(result.stdout).not.toContain("Clawbot is ready");
  });
});

describe("bad inputs", () => {
  it("names a missing model file", async () => {
    const cwd = tempDir();
    const result = await runCli(["start", "--model", "/nonexistent/x.gguf", "--port", String(await freePort())], { cwd, env: sandboxEnv(cwd) });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain("/nonexistent/x.gguf");
  });

  it("names the specific reason of a truncated model file, not only llama.cpp's last line", async () => {
    // In a fresh process, as a user meets it: llama.cpp's log lines are what carry the reason.
    const cwd = tempDir();
    const model = fs.readFileSync(modelPath);
    const truncated = path.join(cwd, "truncated.gguf");
    fs.writeFileSync(truncated, model.subarray(0, Math.floor(model.length * 0.6)));
    const result = await runCli(["start", "--model", truncated, "--port", String(await freePort())], { cwd, env: sandboxEnv(cwd) });
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(new RegExp(`Cannot load model ${truncated}: Failed to load model \\(llama\\.cpp: tensor '[^']+' data is not within the file bounds`));
  });

  it("names a missing config file", async () => {
    const cwd = tempDir();
    const result = await runCli(["start", "--config", "missing.yaml"], { cwd, env: sandboxEnv(cwd) });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain("missing.yaml: cannot read config (file not found)");
  });

  it("names the key path of an unknown key", async () => {
    const cwd = tempDir();
    fs.writeFileSync(
      path.join(cwd, "clawbot.yaml"),
      `agent:\n  model_path: ${JSON.stringify(modelPath)}\ngateways:\n  - type: websocket\n    port: 0\n    auth:\n      type: none\n      secrett: x\n`,
    );
    const result = await runCli(["start", "--config", "clawbot.yaml"], { cwd, env: sandboxEnv(cwd) });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(`clawbot.yaml: gateways[0].auth: unknown key "secrett"`);
  });
});

describe("graceful shutdown", () => {
  it("finishes an in-flight answer after SIGTERM, then exits 0", async () => {
    const cwd = tempDir();
    const secret = randomBytes(32).toString("base64url");
    const auth = { type: "jwt", secret };
    const port = await freePort();
    fs.writeFileSync(
      path.join(cwd, "clawbot.yaml"),
      YAML.stringify({
        agent: { model_path: modelPath, data_dir: "./data" },
        gateways: [
          { type: "websocket", port, auth },
          { type: "http", port, auth },
        ],
        shutdown_grace: 10,
      }),
    );
    const node = spawnCli(["start", "--config", "clawbot.yaml"], { cwd, env: sandboxEnv(cwd) });
    const wsUrl = `ws://127.0.0.1:${port}/`;
    expect((await waitUntilReady(node)).wsUrl).toBe(wsUrl);
    const client = await connect(wsUrl, await issueToken({ secret, subject: "alice", roles: ["user"], ttl: "5m" }));

    const result = client.result("r1");
    const firstDelta = client.next((frame) => frame.type === "text-delta" && frame.id === "r1");
    client.send({ type: "chat", id: "r1", message: "Once upon a time", params: { max_tokens: 300, temperature: 0 } });
    await firstDelta;
    node.child.kill("SIGTERM");
    // The answer (300 tokens, a few hundred ms) is still streaming when the signal goes out.
    expect(client.frames.some((frame) => frame.type === "finish"), "r1 finished before SIGTERM was sent").toBe(false);
    await node.waitFor(/shutting down: draining in-flight requests/, { stream: "stderr", timeoutMs: 10_000 });

    const { deltas, end } = await result;
    expect(end).toMatchObject({ type: "finish", id: "r1" });
    expect(["stop", "length"]).toContain(end.finish_reason);
    expect(end.text).toBe(deltas.join(""));
    expect(deltas.length).toBeGreaterThan(1);
    expect(await node.exited).toEqual({ code: 0, signal: null });
  });
});
