// `clawbot start` and the metrics listener: --metrics-port wins over the environment, and a port in use stops the start clearly.
import fs from "node:fs";
import net from "node:net";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { freePort, killAll, removeTempDirs, runCli, sandboxEnv, spawnCli, tempDir, waitUntilReady } from "./helpers/cli-process.js";

afterEach(async () => {
  await killAll();
  removeTempDirs();
});

function writeConfig(directory: string, gatewayPort: number, metrics: Record<string, unknown> = {}): string {
  const file = path.join(directory, "clawbot.yaml");
  const config = {
    agent: { engine: "echo", data_dir: "./data" },
    gateways: [{ type: "http", port: gatewayPort, auth: { type: "none" } }],
    metrics,
    log_level: "warn",
  };
  fs.writeFileSync(file, JSON.stringify(config));
  return file;
}

describe("clawbot start and the metrics listener", () => {
  it("serves the metrics on --metrics-port, over CLAWBOT_METRICS_PORT and metrics.port", async () => {
    const directory = tempDir("clawbot-metrics-cli-");
    const [gatewayPort, metricsPort, environmentPort] = [await freePort(), await freePort(), await freePort()];
    const config = writeConfig(directory, gatewayPort, { port: 1 });
    const cli = spawnCli(["start", "--config", config, "--metrics-port", String(metricsPort)], {
      cwd: directory,
      env: sandboxEnv(directory, { CLAWBOT_METRICS_PORT: String(environmentPort) }),
    });
    await waitUntilReady(cli, 60_000);
    const response = await fetch(`http://127.0.0.1:${metricsPort}/metrics`);
    expect(response.status).toBe(200);
    expect(await response.text()).toMatch(/^clawbot_model_info\{model="echo",engine="echo"/m);
    await expect(fetch(`http://127.0.0.1:${environmentPort}/metrics`)).rejects.toThrow();
  });

  it("refuses a bad --metrics-port, and stops the start naming metrics.port, CLAWBOT_METRICS_PORT and enabled: false when the port is taken", async () => {
    const directory = tempDir("clawbot-metrics-cli-");
    const config = writeConfig(directory, await freePort());
    const bad = await runCli(["start", "--config", config, "--metrics-port", "99999"], { cwd: directory, env: sandboxEnv(directory) });
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('--metrics-port: expected a port number (0-65535), got "99999"');
    const blocker = net.createServer();
    await new Promise<void>((resolve) => blocker.listen(0, "127.0.0.1", resolve));
    const taken = (blocker.address() as net.AddressInfo).port;
    try {
      const result = await runCli(["start", "--config", config], { cwd: directory, env: sandboxEnv(directory, { CLAWBOT_METRICS_PORT: String(taken) }), timeoutMs: 60_000 });
      expect(result.code).toBe(1);
      expect(result.stderr).toContain(`metrics.port ${taken} is in use`);
      expect(result.stderr).toContain("CLAWBOT_METRICS_PORT");
      expect(result.stderr).toContain("metrics: {enabled: false}");
    } finally {
      await new Promise((resolve) => blocker.close(resolve));
    }
  });
});
