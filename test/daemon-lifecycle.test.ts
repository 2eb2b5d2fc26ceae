// Starting and stopping a node: refusals at start, and shutdown that drains in-flight answers.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { configSchema } from "../src/config/schema.js";
import { createDaemon } from "../src/daemon/daemon.js";
import { silentLogger } from "../src/logging/logger.js";
import { startTestNode } from "./helpers/test-node.js";
import { testModelPath } from "./helpers/test-model.js";
import { WsTestClient } from "./helpers/ws-test-client.js";

const dataDir = () => fs.mkdtempSync(path.join(os.tmpdir(), "clawbot-lifecycle-"));

async function startWith(raw: unknown, extra: { modelPath?: string; insecureDev?: boolean } = {}) {
  const config = configSchema.parse({ metrics: { port: 0 }, ...(raw as object) });
  return createDaemon({ config, baseDir: dataDir(), logger: silentLogger, ...extra });
}

describe("start-time refusals", () => {
  it("refuses the placeholder secret and short secrets unless --insecure-dev", async () => {
    const placeholder = { agent: { engine: "echo", data_dir: dataDir() }, gateways: [{ type: "websocket", port: 0, auth: { type: "jwt", secret: "your-secret-key" } }] };
    await expect(startWith(placeholder)).rejects.toThrow(/auth\.secret is the placeholder your-secret-key/);
    const short = { ...placeholder, gateways: [{ type: "websocket", port: 0, auth: { type: "jwt", secret: "short" } }] };
    await expect(startWith(short)).rejects.toThrow(/shorter than 32 bytes/);
    const daemon = await startWith(placeholder, { insecureDev: true });
    await daemon.close();
  });

  it("refuses to expose an unauthenticated gateway beyond loopback", async () => {
    const exposed = { agent: { engine: "echo", data_dir: dataDir() }, gateways: [{ type: "http", host: "0.0.0.0", port: 0 }] };
    await expect(startWith(exposed)).rejects.toThrow(/binding to 0\.0\.0\.0 with auth disabled is refused/);
  });

  it("names an unregistered custom protocol instead of skipping it", async () => {
    const unknown = {
      agent: { engine: "echo", data_dir: dataDir() },
      gateways: [{ type: "custom", protocol: "carrier_pigeon", coop: "roof" }],
    };
    await expect(startWith(unknown)).rejects.toThrow(/Gateway protocol "carrier_pigeon" is not available/);
  });

  it("starts the seed's enterprise_mqtt entry while its broker is unreachable, and names bad keys by path", async () => {
    const seedGateway = { type: "custom", protocol: "enterprise_mqtt", broker: "tcp://broker.example:1883", qos: 1 };
    const daemon = await startWith({ agent: { engine: "echo", data_dir: dataDir() }, gateways: [{ type: "websocket", port: 0 }, seedGateway] });
    expect(daemon.gateways[1]?.name).toMatch(/^mqtt tcp:\/\/broker\.example:1883/);
    await daemon.close();
    const bad = { agent: { engine: "echo", data_dir: dataDir() }, gateways: [{ type: "websocket", port: 0 }, { ...seedGateway, qos: 3 }] };
    await expect(startWith(bad)).rejects.toThrow(/gateways\[1\]\.qos: expected one of 0, 1, 2/);
  });

  it("names the path of a missing or non-GGUF model file", async () => {
    const raw = { agent: { data_dir: dataDir() }, gateways: [{ type: "websocket", port: 0 }] };
    await expect(startWith(raw, { modelPath: "/nonexistent/model.gguf" })).rejects.toThrow("Model file /nonexistent/model.gguf: file not found");
    const notGguf = path.join(dataDir(), "fake.gguf");
    fs.writeFileSync(notGguf, "this is not a model");
    await expect(startWith(raw, { modelPath: notGguf })).rejects.toThrow(`Model file ${notGguf} is not a GGUF file`);
  });
});

describe("shutdown", () => {
  it("lets a short in-flight answer finish within the grace period", async () => {
    const node = await startTestNode({ shutdownGrace: 10 });
    const client = await WsTestClient.connect(node.wsUrl, { token: await node.token() });
    const result = client.result("r");
    const firstDelta = client.next((frame) => frame.type === "text-delta");
    client.send({ type: "chat", id: "r", message: "Once upon a time", params: { max_tokens: 300 } });
    await firstDelta;
    await node.close();
    expect((await result).end).toMatchObject({ type: "finish", finish_reason: "length" });
  });

  it("cancels answers still running when the grace period ends, with finish_reason cancelled", async () => {
    const model = await testModelPath();
    expect(fs.existsSync(model)).toBe(true);
    const node = await startTestNode({ shutdownGrace: 0.05, agent: { context_size: 8192 } });
    const client = await WsTestClient.connect(node.wsUrl, { token: await node.token() });
    const result = client.result("slow");
    const firstDelta = client.next((frame) => frame.type === "text-delta");
    client.send({ type: "chat", id: "slow", message: "Once upon a time", params: { max_tokens: 8000 } });
    await firstDelta;
    await node.close();
    const { end } = await result;
    expect(end).toMatchObject({ type: "finish", finish_reason: "cancelled" });
    expect((end.usage as { completion_tokens: number }).completion_tokens).toBeLessThan(8000);
  });
});
