// End to end, the real CLI: `clawbot start` names the config it loaded and prints a working token for every JWT
// gateway; `token issue --config` counts JWT auth on every gateway type, custom adapters included.
import { generateKeyPairSync } from "node:crypto";
import fs from "node:fs";
import net from "node:net";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { jwtVerify } from "jose";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import YAML from "yaml";
import { freePort, killAll, removeTempDirs, runCli, sandboxEnv, spawnCli, tempDir, waitUntilReady, type CliProcess } from "./helpers/cli-process.js";
import { testModelPath } from "./helpers/test-model.js";

const repositoryRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const tcpAdapter = path.join(repositoryRoot, "examples", "gateways", "tcp-ndjson.ts");
const secret = "first-run-config-secret-0123456789abcdef";
let modelPath: string;

beforeAll(async () => {
  modelPath = await testModelPath();
});

afterEach(async () => {
  await killAll();
});

afterAll(async () => {
  await killAll();
  removeTempDirs();
});

async function stop(cli: CliProcess): Promise<number | null> {
  cli.child.kill("SIGTERM");
  return (await cli.exited).code;
}

async function chatStatus(httpUrl: string, token: string): Promise<number> {
  const response = await fetch(`${httpUrl}/chat/completions`, {
    method: "POST",
    headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
    body: JSON.stringify({ messages: [{ role: "user", content: "Once upon a time" }], max_tokens: 4, temperature: 0 }),
  });
  await response.arrayBuffer();
  return response.status;
}

describe("clawbot start names its config and prints a token", () => {
  it("after clawbot init, start --model loads ./clawbot.yaml, says so, and prints a token that config accepts", async () => {
    const cwd = tempDir();
    const env = sandboxEnv(cwd);
    const init = await runCli(["init"], { cwd, env });
    expect(init.code, init.stderr).toBe(0);

    const port = await freePort();
    const node = spawnCli(["start", "--model", modelPath, "--port", String(port)], { cwd, env });
    const ready = await waitUntilReady(node);
    expect(node.stderr()).toContain(`Config: ${path.join(cwd, "clawbot.yaml")} (found in the working directory; --config <file> loads another)`);
    expect(node.stdout()).toMatch(/^ {2}token \(1 hour\): [\w-]+\.[\w-]+\.[\w-]+$/m);
    expect(node.stdout()).toContain("More tokens: npx clawbot token issue --config clawbot.yaml --sub <name> --ttl 1h");
    expect(ready.chatLine).toBe(`Chat: npx clawbot chat --url ws://127.0.0.1:${port}/ --token ${ready.token}`);
    expect(await chatStatus(ready.httpUrl!, ready.token!)).toBe(200);
    // The token is signed with the config's secret, not the first-run one.
    const configSecret = (YAML.parse(fs.readFileSync(path.join(cwd, "clawbot.yaml"), "utf8")) as { gateways: { auth: { secret: string } }[] }).gateways[0]!.auth.secret;
    const { payload } = await jwtVerify(ready.token!, new TextEncoder().encode(configSecret));
    expect(payload).toMatchObject({ sub: "local", role: "user" });
    expect(payload.exp! - payload.iat!).toBe(3600);
    expect(await stop(node)).toBe(0);
  });

  it("with no config says it runs on built-in defaults and prints the 30-day token", async () => {
    const cwd = tempDir();
    const env = sandboxEnv(cwd, { CLAWBOT_DEFAULT_MODEL: modelPath });
    const node = spawnCli(["start", "--port", String(await freePort())], { cwd, env });
    const ready = await waitUntilReady(node);
    expect(node.stderr()).toContain(`Config: none (no --config and no ./clawbot.yaml here): built-in defaults, JWT secret in ${path.join(cwd, "clawbot-home", "jwt-secret")}`);
    expect(node.stdout()).toMatch(/^ {2}token \(30 days\): /m);
    expect(node.stdout()).not.toContain("More tokens:");
    expect(await chatStatus(ready.httpUrl!, ready.token!)).toBe(200);
    expect(await stop(node)).toBe(0);
  });

  it("prints a token for a node whose only JWT gateway is a custom adapter, and the adapter accepts it", async () => {
    const cwd = tempDir();
    const port = await freePort();
    fs.writeFileSync(
      path.join(cwd, "tcp.yaml"),
      YAML.stringify({
        agent: { model_path: modelPath, data_dir: "./data" },
        gateways: [{ type: "custom", protocol: "tcp-ndjson", path: tcpAdapter, port, auth: { type: "jwt", secret, audience: "tcp-clients" } }],
      }),
    );
    const node = spawnCli(["start", "--config", "tcp.yaml"], { cwd, env: sandboxEnv(cwd) });
    const [, token] = await node.waitFor(/^ {2}token \(1 hour\): (\S+)$/m, { timeoutMs: 60_000 });
    expect(node.stderr()).toContain(`Config: ${path.join(cwd, "tcp.yaml")}\n`);
    expect(node.stdout()).toContain(`tcp-ndjson tcp://127.0.0.1:${port}`);
    expect(node.stdout()).toContain("More tokens: npx clawbot token issue --config tcp.yaml --sub <name> --ttl 1h");
    expect((await jwtVerify(token!, new TextEncoder().encode(secret), { audience: "tcp-clients" })).payload.sub).toBe("local");

    const socket = net.connect(port, "127.0.0.1");
    const reply = new Promise<string>((resolve) => socket.once("data", (chunk) => resolve(String(chunk))));
    socket.write(`${JSON.stringify({ type: "auth", token })}\n`);
    expect(JSON.parse((await reply).split("\n")[0]!)).toEqual({ type: "authenticated", subject: "local" });
    socket.destroy();
    expect(await stop(node)).toBe(0);
  });
});

describe("clawbot token issue --config", () => {
  it("takes the JWT auth of a custom adapter or an MQTT gateway, not only websocket/http", async () => {
    const cwd = tempDir();
    const env = sandboxEnv(cwd);
    const configs = {
      "custom.yaml": { gateways: [{ type: "custom", protocol: "tcp-ndjson", path: tcpAdapter, port: 9000, auth: { type: "jwt", secret, issuer: "custom-issuer" } }] },
      "mqtt.yaml": { gateways: [{ type: "mqtt", broker: "tcp://127.0.0.1:1883", auth: { type: "jwt", secret, issuer: "mqtt-issuer" } }] },
      "enterprise.yaml": { gateways: [{ type: "custom", protocol: "enterprise_mqtt", broker: "tcp://127.0.0.1:1883", auth: { type: "jwt", secret, issuer: "enterprise-issuer" } }] },
    };
    for (const [file, config] of Object.entries(configs)) {
      fs.writeFileSync(path.join(cwd, file), YAML.stringify(config));
      const issued = await runCli(["token", "issue", "--config", file, "--sub", "alice"], { cwd, env });
      expect(issued.code, `${file}: ${issued.stderr}`).toBe(0);
      const issuer = config.gateways[0]!.auth.issuer;
      const { payload } = await jwtVerify(issued.stdout.trim(), new TextEncoder().encode(secret), { issuer });
      expect(payload.sub).toBe("alice");
    }

    fs.writeFileSync(path.join(cwd, "none.yaml"), YAML.stringify({ gateways: [{ type: "custom", protocol: "tcp-ndjson", path: tcpAdapter, port: 9000 }] }));
    const none = await runCli(["token", "issue", "--config", "none.yaml", "--sub", "alice"], { cwd, env });
    expect(none.code).toBe(1);
    expect(none.stderr).toContain("no gateway in none.yaml uses auth type jwt");
  });

  it("start with a public-key gateway says how to issue a token instead of printing one", async () => {
    const cwd = tempDir();
    const { publicKey } = generateKeyPairSync("ed25519");
    fs.writeFileSync(path.join(cwd, "public.pem"), publicKey.export({ type: "spki", format: "pem" }));
    const port = await freePort();
    fs.writeFileSync(
      path.join(cwd, "clawbot.yaml"),
      YAML.stringify({ agent: { model_path: modelPath, data_dir: "./data" }, gateways: [{ type: "http", port, auth: { type: "jwt", public_key: "./public.pem" } }] }),
    );
    const node = spawnCli(["start", "--config", "clawbot.yaml"], { cwd, env: sandboxEnv(cwd) });
    await waitUntilReady(node);
    expect(node.stdout()).toContain("Tokens: npx clawbot token issue --config clawbot.yaml --sub <name> --key <private.pem> (the key that matches the gateway's public_key)");
    expect(node.stdout()).not.toMatch(/token \(/);
    expect(await stop(node)).toBe(0);
  });
});
