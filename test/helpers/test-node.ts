// Starts a real Clawbot node in-process for integration tests: the real model (or echo), WebSocket + HTTP on a free port.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { randomUUID } from "node:crypto";
import { configSchema } from "../../src/config/schema.js";
import { MqttGateway } from "../../src/gateways/mqtt/mqtt-gateway.js";
import { createDaemon, type Daemon } from "../../src/daemon/daemon.js";
import type { GatewayEvents } from "../../src/gateways/gateway-events.js";
import { silentLogger } from "../../src/logging/logger.js";
import type { RequestObserver } from "../../src/pipeline/request-observer.js";
import { issueToken } from "../../src/security/jwt-issuer.js";
import { testModelPath } from "./test-model.js";

export const testSecret = "test-secret-0123456789-abcdefghijklmnop";

export interface TestNode {
  daemon: Daemon;
  wsUrl: string;
  httpUrl: string;
  dataDir: string;
  /** Where the node's MQTT gateway listens, when it has one. */
  mqtt?: { url: string; prefix: string };
  /** A token signed with the test secret, valid for `ttl` (default "1h"). */
  token(subject?: string, ttl?: string): Promise<string>;
  close(): Promise<void>;
}

export interface TestNodeOptions {
  agent?: Record<string, unknown>;
  /** Reuse a data directory (to test persistence across restarts). */
  dataDir?: string;
  shutdownGrace?: number;
  websocket?: Record<string, unknown>;
  /** Extra keys for the http gateway entry (max_body, max_buffered, slow_client_timeout, …). */
  http?: Record<string, unknown>;
  /** The config's `plugins` entries; relative paths resolve against `baseDir`. */
  plugins?: unknown[];
  /** Seconds each plugin hook may take (config `plugin_timeout`). */
  pluginTimeout?: number;
  /** Directory relative config paths resolve against; the data directory by default. */
  baseDir?: string;
  /** A broker URL: the node also gets an MQTT gateway (its own client id and topic prefix), connected on return. */
  mqttBroker?: string;
  /** Extra keys of the gateways' jwt auth (e.g. clock_tolerance). */
  auth?: Record<string, unknown>;
  /** The config's per-subject `limits`. */
  limits?: Record<string, unknown>;
  /** The config's `sessions` section (max_turns, retention_days). */
  sessions?: Record<string, unknown>;
  /** The config's `audit` section (content, checkpoint_interval, sinks). */
  audit?: Record<string, unknown>;
  /** The config's `watermark` section (enabled, key, gamma, delta). */
  watermark?: Record<string, unknown>;
  /** The config's `security` section (policy_file, role_claims, rollout). */
  security?: Record<string, unknown>;
  /** The config's `knowledge` section (enabled, top_k, max_prompt_tokens, collections, …). */
  knowledge?: Record<string, unknown>;
  /** The config's `tools` section (approval_timeout, allow, max_steps, …). */
  tools?: Record<string, unknown>;
  /** More gateway entries after the websocket and http ones (e.g. `{type: "custom", protocol: "wecom", …}`). */
  extraGateways?: unknown[];
  /** The config's `cluster` section (nats, name, node_id, roles, …): the node joins that cluster. */
  cluster?: Record<string, unknown>;
  /** Test-only subscribers: each gateway's channel events (by gateway type), and pipeline observers after the node's own. */
  observe?: { events?: (gateway: string) => GatewayEvents; observers?: RequestObserver[] };
}

export async function startTestNode(options: TestNodeOptions = {}): Promise<TestNode> {
  const dataDir = options.dataDir ?? fs.mkdtempSync(path.join(os.tmpdir(), "clawbot-test-"));
  const agent: Record<string, unknown> = { temperature: 0, data_dir: dataDir, ...options.agent };
  const engine = agent.engine ?? "llama";
  const auth = { type: "jwt", secret: testSecret, ...options.auth };
  const unique = randomUUID().slice(0, 8);
  const mqtt = options.mqttBroker ? { url: options.mqttBroker, prefix: `clawbot-${unique}` } : undefined;
  const config = configSchema.parse({
    agent,
    gateways: [
      { type: "websocket", port: 0, auth, ...options.websocket },
      { type: "http", port: 0, auth, ...options.http },
      ...(mqtt ? [{ type: "mqtt", broker: mqtt.url, client_id: `clawbot-node-${unique}`, topic_prefix: mqtt.prefix, auth }] : []),
      ...(options.extraGateways ?? []),
    ],
    shutdown_grace: options.shutdownGrace ?? 5,
    metrics: { port: 0 },
    plugins: options.plugins ?? [],
    plugin_timeout: options.pluginTimeout ?? 2,
    ...(options.limits ? { limits: options.limits } : {}),
    ...(options.sessions ? { sessions: options.sessions } : {}),
    ...(options.audit ? { audit: options.audit } : {}),
    ...(options.security ? { security: options.security } : {}),
    ...(options.watermark ? { watermark: options.watermark } : {}),
    ...(options.knowledge ? { knowledge: options.knowledge } : {}),
    ...(options.tools ? { tools: options.tools } : {}),
    ...(options.cluster ? { cluster: options.cluster } : {}),
  });
  const modelPath = engine === "llama" ? await testModelPath() : undefined;
  const daemon = await createDaemon({
    config,
    baseDir: options.baseDir ?? dataDir,
    modelPath,
    logger: silentLogger,
    ...(options.observe?.events ? { extraGatewayEvents: options.observe.events } : {}),
    ...(options.observe?.observers ? { extraObservers: options.observe.observers } : {}),
  });
  const port = (daemon.gateways[0] as unknown as { port: number }).port;
  const mqttGateway = daemon.gateways.find((gateway): gateway is MqttGateway => gateway instanceof MqttGateway);
  if (mqttGateway) await until(() => mqttGateway.status().connected, "the MQTT gateway to connect");
  return {
    daemon,
    wsUrl: `ws://127.0.0.1:${port}/`,
    httpUrl: `http://127.0.0.1:${port}`,
    dataDir,
    mqtt,
    token: (subject = "alice", ttl = "1h") => issueToken({ secret: testSecret, subject, roles: ["user"], ttl }),
    close: () => daemon.close(),
  };
}

async function until(condition: () => boolean, what: string, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
