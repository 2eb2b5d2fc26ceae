// `clawbot doctor` through the real CLI: a good config passes; weak secret, held port, missing model, dead broker, wide data dir, bad TLS fail or warn with fixes; real brokers pass.
import { randomBytes } from "node:crypto";
import fs from "node:fs";
import net from "node:net";
import path from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { freePort, killAll, removeTempDirs, runCli, sandboxEnv, tempDir } from "./helpers/cli-process.js";
import { MosquittoBroker } from "./helpers/mosquitto.js";
import { NatsServer } from "./helpers/nats-server.js";
import { makeTestPki, type TestPki } from "./helpers/test-ca.js";
import { testModelPath } from "./helpers/test-model.js";
import { startTestNode } from "./helpers/test-node.js";

interface Check {
  name: string;
  status: "ok" | "warn" | "fail";
  message: string;
  fix?: string;
}

let broker: MosquittoBroker;
let nats: NatsServer;
let pki: TestPki;
let modelPath: string;

beforeAll(async () => {
  [broker, nats, modelPath] = await Promise.all([MosquittoBroker.start({ users: { node: "node-password-1" } }), NatsServer.start(), testModelPath()]);
  pki = makeTestPki();
}, 60_000);

afterEach(async () => {
  await killAll();
});

afterAll(async () => {
  await Promise.all([broker?.close(), nats?.stop()]);
  pki?.remove();
  removeTempDirs();
});

/** A working directory with a private data dir and the config (JSON is YAML) written into it. */
function workspace(config: (dataDir: string, root: string) => Record<string, unknown>, dataDirMode = 0o700): { root: string; configFile: string; dataDir: string } {
  const root = tempDir("clawbot-doctor-");
  const dataDir = path.join(root, "data");
  fs.mkdirSync(dataDir);
  fs.chmodSync(dataDir, dataDirMode);
  const configFile = path.join(root, "clawbot.yaml");
  fs.writeFileSync(configFile, JSON.stringify(config(dataDir, root), null, 2));
  return { root, configFile, dataDir };
}

async function doctor(space: { root: string; configFile: string }, json = false) {
  const result = await runCli(["doctor", "--config", space.configFile, ...(json ? ["--json"] : [])], {
    cwd: space.root,
    // vitest.config.ts sets CLAWBOT_METRICS_PORT=0 for every node; here the configured metrics.port is what is checked.
    env: sandboxEnv(space.root, { CLAWBOT_METRICS_PORT: "" }),
    timeoutMs: 20_000,
  });
  return { ...result, checks: json ? (JSON.parse(result.stdout) as { checks: Check[]; ok: boolean }) : undefined };
}

const strongSecret = () => randomBytes(32).toString("base64url");

/** The line of the check whose name starts with `name`, and the fix line under it. */
function lineOf(stdout: string, name: string): { line: string; fix: string | undefined } {
  const lines = stdout.split("\n");
  const index = lines.findIndex((line) => line.slice(2).startsWith(name));
  expect(index, `no line for ${name} in\n${stdout}`).toBeGreaterThanOrEqual(0);
  const next = lines[index + 1] ?? "";
  return { line: lines[index] as string, fix: next.startsWith("    fix: ") ? next.slice("    fix: ".length) : undefined };
}

describe("clawbot doctor", () => {
  it("passes a good config with the test model: exit 0, every check ok or warn, --json parses", async () => {
    const port = await freePort();
    const metricsPort = await freePort();
    const auth = { type: "jwt", secret: strongSecret() };
    const space = workspace((dataDir) => ({
      agent: { model_path: modelPath, data_dir: dataDir },
      gateways: [{ type: "websocket", port, auth }, { type: "http", port, auth }],
      metrics: { port: metricsPort },
    }));
    const text = await doctor(space);
    expect(text.code, text.stdout + text.stderr).toBe(0);
    expect(text.stdout).not.toContain("✗");
    expect(lineOf(text.stdout, "model:").line).toMatch(/^✓ model: .*stories260K\.gguf: GGUF/);
    expect(lineOf(text.stdout, `port 127.0.0.1:${port}:`).line).toContain("✓");
    expect(lineOf(text.stdout, "data dir mode:").line).toBe("✓ data dir mode: 700");

    const { code, checks } = await doctor(space, true);
    expect(code).toBe(0);
    expect(checks!.ok).toBe(true);
    const names = checks!.checks.map((check) => check.name);
    for (const name of ["config", "model", "threads", "data dir", "data dir mode", "disk space", `port 127.0.0.1:${port}`, `port 127.0.0.1:${metricsPort}`, "secret gateways[0] (websocket)", "exposure", "clock"]) {
      expect(names).toContain(name);
    }
    for (const check of checks!.checks) {
      expect(["ok", "warn"]).toContain(check.status);
      if (check.status === "warn") expect(check.fix, check.name).toBeTruthy();
    }
  });

  it("names each problem with its fix and exits 1: weak secret, held port, missing model, dead broker, wide data dir, open listener, bad TLS", async () => {
    const holder = net.createServer();
    await new Promise<void>((resolve) => holder.listen(0, "127.0.0.1", resolve));
    const heldPort = (holder.address() as net.AddressInfo).port;
    const deadBrokerPort = await freePort();
    const openPort = await freePort();
    const tlsPort = await freePort();
    try {
      const space = workspace(
        (dataDir) => ({
          agent: { model_path: "./missing-model.gguf", data_dir: dataDir },
          gateways: [
            { type: "websocket", port: heldPort, auth: { type: "jwt", secret: "change-me" } },
            { type: "http", host: "0.0.0.0", port: openPort },
            { type: "http", port: tlsPort, auth: { type: "jwt", secret: strongSecret() }, tls: { cert: path.join(pki.directory, pki.files.expiredCert), key: path.join(pki.directory, pki.files.serverKey) } },
            { type: "mqtt", broker: `tcp://127.0.0.1:${deadBrokerPort}` },
          ],
          metrics: { enabled: false },
        }),
        0o755,
      );
      const result = await doctor(space);
      expect(result.code, result.stdout + result.stderr).toBe(1);
      const { stdout } = result;

      const secret = lineOf(stdout, "secret gateways[0] (websocket):");
      expect(secret.line).toMatch(/^✗ .*placeholder/);
      expect(secret.fix).toContain("at least 32 bytes");

      const port = lineOf(stdout, `port 127.0.0.1:${heldPort}:`);
      expect(port.line).toMatch(new RegExp(`^✗ .*port ${heldPort} on 127\\.0\\.0\\.1 is in use`));
      expect(port.fix).toContain("gateways[0].port");

      const model = lineOf(stdout, "model:");
      expect(model.line).toMatch(/^✗ model: .*missing-model\.gguf/);
      expect(model.fix).toContain("agent.model_path");

      const mqtt = lineOf(stdout, `mqtt tcp://127.0.0.1:${deadBrokerPort}:`);
      expect(mqtt.line).toMatch(/^✗ .*ECONNREFUSED/);
      expect(mqtt.fix).toContain("gateways[3].broker");

      const mode = lineOf(stdout, "data dir mode:");
      expect(mode.line).toMatch(/^⚠ .*mode 755/);
      expect(mode.fix).toBe(`chmod 700 ${space.dataDir}`);

      expect(lineOf(stdout, "exposure gateways[1] (http):").line).toMatch(/^✗ .*0\.0\.0\.0 with auth disabled is refused/);
      expect(lineOf(stdout, "tls cert gateways[2] (http):").line).toMatch(/^✗ .*expired on/);
      expect(lineOf(stdout, "tls key gateways[2] (http):").line).toMatch(/^✗ .*is not the key of the certificate/);

      // The same findings as JSON, each failure with its fix.
      const { checks } = await doctor(space, true);
      expect(checks!.ok).toBe(false);
      const failed = checks!.checks.filter((check) => check.status === "fail").map((check) => check.name);
      expect(failed).toEqual(
        expect.arrayContaining(["model", "secret gateways[0] (websocket)", `port 127.0.0.1:${heldPort}`, `mqtt tcp://127.0.0.1:${deadBrokerPort}`, "exposure gateways[1] (http)"]),
      );
      for (const check of checks!.checks.filter((check) => check.status !== "ok")) expect(check.fix, check.name).toBeTruthy();
    } finally {
      await new Promise((resolve) => holder.close(resolve));
    }
  });

  it("connects to a running mosquitto and nats-server (✓), refuses a wrong broker password (✗); a gateway-only node needs no model", async () => {
    const port = await freePort();
    const auth = { type: "jwt", secret: strongSecret() };
    const space = workspace((dataDir) => ({
      agent: { data_dir: dataDir, model_path: "./not-needed.gguf" },
      gateways: [
        { type: "websocket", port, auth },
        { type: "mqtt", broker: broker.url, username: "node", password: "node-password-1", client_id: "doctor-test-a", auth },
        { type: "custom", protocol: "enterprise_mqtt", broker: broker.url, username: "node", password: "wrong-password", client_id: "doctor-test-b", auth },
      ],
      metrics: { enabled: false },
      cluster: { nats: nats.url, roles: ["gateway"] },
    }));
    const { code, checks } = await doctor(space, true);
    expect(code).toBe(1);
    const byName = new Map(checks!.checks.map((check) => [check.name, check]));
    const mqtt = checks!.checks.filter((check) => check.name === `mqtt ${broker.url}`);
    expect(mqtt.map((check) => check.status).sort()).toEqual(["fail", "ok"]);
    expect(mqtt.find((check) => check.status === "ok")!.message).toContain("connected as node");
    expect(mqtt.find((check) => check.status === "fail")!.message).toMatch(/Not authorized|Bad username or password/i);
    expect(byName.get(`nats ${nats.url}`)).toMatchObject({ status: "ok" });
    expect(byName.get(`nats ${nats.url}`)!.message).toContain("JetStream enabled");
    expect(byName.get("model")).toMatchObject({ status: "ok" });
    expect(byName.get("model")!.message).toContain("gateway-only");
  });

  it("says a port is held by the Clawbot node already running on the data dir instead of failing", async () => {
    const node = await startTestNode({ agent: { engine: "echo" } });
    try {
      const port = Number(new URL(node.httpUrl).port);
      const auth = { type: "jwt", secret: strongSecret() };
      const space = workspace(() => ({
        agent: { engine: "echo", data_dir: node.dataDir },
        gateways: [{ type: "websocket", port, auth }],
        metrics: { enabled: false },
      }));
      const result = await doctor(space);
      expect(result.code, result.stdout).toBe(0);
      expect(lineOf(result.stdout, `port 127.0.0.1:${port}:`).line).toMatch(new RegExp(`^✓ .*held by the Clawbot node already running on this data dir \\(pid ${process.pid}\\)`));
    } finally {
      await node.close();
    }
  });

  it("names every unset ${ENV} of the config and exits 2 on an unknown option", async () => {
    const root = tempDir("clawbot-doctor-");
    const configFile = path.join(root, "clawbot.yaml");
    fs.writeFileSync(configFile, 'agent:\n  system_prompt: "${DOCTOR_UNSET_A}"\n  # data_dir: "${DOCTOR_COMMENTED}"\n  data_dir: "${DOCTOR_UNSET_B}"\n  max_tokens: 10\n');
    const result = await doctor({ root, configFile });
    expect(result.code).toBe(1);
    const config = lineOf(result.stdout, "config:");
    expect(config.line).toMatch(/^✗ config: .*DOCTOR_UNSET_A.*DOCTOR_UNSET_B/);
    expect(config.line).not.toContain("DOCTOR_COMMENTED");
    expect(config.fix).toContain("set DOCTOR_UNSET_A, DOCTOR_UNSET_B");

    const usage = await runCli(["doctor", "--no-such-flag"], { cwd: root, env: sandboxEnv(root) });
    expect(usage.code).toBe(2);
    expect(usage.stderr).toContain("unknown option");
  });
});
