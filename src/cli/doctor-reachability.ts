// `clawbot doctor`'s reachability checks, in parallel, 5 s each: MQTT brokers (a real connect), NATS, audit sinks, MCP http servers.
import fs from "node:fs";
import net from "node:net";
import path from "node:path";
import type { LoadedConfig } from "../config/load.js";
import type { MqttOptions } from "../config/schema.js";
import type { MqttConnectSettings } from "../gateways/mqtt/mqtt-client-options.js";
import { resolveGatewayConfig } from "../gateways/registry.js";
import { fail, ok, type DoctorCheck } from "./doctor-check.js";

export const reachTimeoutMs = 5000;

export async function reachabilityChecks(loaded: LoadedConfig): Promise<DoctorCheck[]> {
  const { config, baseDir } = loaded;
  const pending: Promise<DoctorCheck>[] = [];
  config.gateways.forEach((entry, index) => {
    const gateway = resolveGatewayConfig(entry, `gateways[${index}]`);
    if (gateway.type === "mqtt") pending.push(mqttCheck(gateway, `gateways[${index}]`, baseDir));
  });
  if (config.cluster) pending.push(natsCheck(loaded));
  config.audit.sinks.forEach((sink, index) => {
    const name = `audit sink audit.sinks[${index}] (${sink.type})`;
    if (sink.type === "file") pending.push(Promise.resolve(fileSinkCheck(name, path.resolve(baseDir, sink.path))));
    else pending.push(tcpCheck(name, sink.url, `audit.sinks[${index}].url`));
  });
  config.tools.mcp_servers.forEach((server, index) => {
    if ("url" in server) pending.push(tcpCheck(`mcp ${server.name}`, server.url, `tools.mcp_servers[${index}].url`));
  });
  return Promise.all(pending);
}

/** Connects as the node would (credentials, TLS files), with its own client id and a clean session: the node's session is not touched. */
async function mqttCheck(gateway: MqttOptions, where: string, baseDir: string): Promise<DoctorCheck> {
  const name = `mqtt ${gateway.broker}`;
  const fix = `check that the broker runs and this machine reaches it, and ${where}.broker, username and password (mosquitto_sub -h <host> -p <port> -u <user> -P <password> -t test tests the same)`;
  let settings: MqttConnectSettings;
  try {
    const { mqttConnectSettings } = await import("../gateways/mqtt/mqtt-client-options.js");
    settings = mqttConnectSettings(gateway, baseDir, 0);
  } catch (error) {
    return fail(name, (error as Error).message, `fix the TLS file paths of ${where} (relative to the config file)`);
  }
  const mqtt = await import("mqtt");
  const started = Date.now();
  const { properties: _properties, ...options } = settings.options;
  const client = mqtt.connect(settings.url, {
    ...options,
    clientId: `clawbot-doctor-${process.pid}-${Math.random().toString(36).slice(2, 8)}`,
    clean: true,
    reconnectPeriod: 0,
    connectTimeout: reachTimeoutMs,
    reconnectOnConnackError: false,
  });
  const outcome = await new Promise<string | undefined>((resolve) => {
    const timer = setTimeout(() => resolve(`no answer within ${reachTimeoutMs / 1000} s`), reachTimeoutMs);
    const settle = (value: string | undefined) => {
      clearTimeout(timer);
      resolve(value);
    };
    client.once("connect", () => settle(undefined));
    client.once("error", (error) => settle(error.message));
    client.once("close", () => settle("the connection was closed before the broker accepted it"));
  });
  client.end(true);
  if (outcome === undefined) return ok(name, `connected${gateway.username ? ` as ${gateway.username}` : ""} in ${Date.now() - started} ms`);
  return fail(name, `cannot connect: ${outcome}`, fix);
}

async function natsCheck(loaded: LoadedConfig): Promise<DoctorCheck> {
  const cluster = loaded.config.cluster!;
  const name = `nats ${cluster.nats.join(", ")}`;
  const fix = "check that nats-server runs with JetStream (-js) and this machine reaches it, and cluster.nats, token / user / password and tls";
  const { connect } = await import("nats");
  const { natsOptions } = await import("../cluster/nats-connection.js");
  const started = Date.now();
  let connection: import("nats").NatsConnection | undefined;
  try {
    connection = await withTimeout(
      connect({ ...natsOptions(cluster, "clawbot-doctor"), waitOnFirstConnect: false, reconnect: false, maxReconnectAttempts: 0, timeout: reachTimeoutMs }),
      "no answer",
    );
    const elapsed = Date.now() - started;
    // The cluster needs JetStream, not only a NATS server.
    const manager = await withTimeout(connection.jetstreamManager(), "JetStream did not answer");
    await withTimeout(manager.getAccountInfo(), "JetStream did not answer");
    return ok(name, `connected to ${connection.getServer()} in ${elapsed} ms, JetStream enabled`);
  } catch (error) {
    return fail(name, `cannot use it: ${(error as Error).message}`, fix);
  } finally {
    await connection?.close().catch(() => undefined);
  }
}

/** A TCP connect to the URL's host and port (the scheme's default port when it has none). */
function tcpCheck(name: string, url: string, key: string): Promise<DoctorCheck> {
  let host: string;
  let port: number;
  try {
    const parsed = new URL(url);
    host = parsed.hostname.replace(/^\[|\]$/g, "");
    port = parsed.port ? Number(parsed.port) : parsed.protocol === "https:" ? 443 : 80;
  } catch {
    return Promise.resolve(fail(name, `${url} is not a URL`, `fix ${key}`));
  }
  const started = Date.now();
  return new Promise((resolve) => {
    const socket = net.connect({ host, port });
    const finish = (check: DoctorCheck) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(check);
    };
    const fix = `check that the service at ${host}:${port} runs and this machine reaches it (firewall), or fix ${key}`;
    const timer = setTimeout(() => finish(fail(name, `${host}:${port} did not answer within ${reachTimeoutMs / 1000} s`, fix)), reachTimeoutMs);
    socket.once("connect", () => finish(ok(name, `${host}:${port} accepts connections (${Date.now() - started} ms)`)));
    socket.once("error", (error: NodeJS.ErrnoException) => finish(fail(name, `cannot connect to ${host}:${port} (${error.code ?? error.message})`, fix)));
  });
}

function fileSinkCheck(name: string, file: string): DoctorCheck {
  const directory = path.dirname(file);
  try {
    fs.accessSync(fs.existsSync(directory) ? directory : path.dirname(directory), fs.constants.W_OK);
    return ok(name, `${directory} is writable`);
  } catch {
    return fail(name, `${directory} is not writable by this user`, `create ${directory} writable by the node's user, or change the sink's path`);
  }
}

function withTimeout<T>(promise: Promise<T>, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    promise,
    new Promise<never>((_resolve, reject) => {
      timer = setTimeout(() => reject(new Error(`${what} within ${reachTimeoutMs / 1000} s`)), reachTimeoutMs);
    }),
  ]).finally(() => clearTimeout(timer));
}
