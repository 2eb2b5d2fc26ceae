// What `clawbot start` does: load config (or first-run defaults), make the model available, serve until SIGINT/SIGTERM.
import fs from "node:fs";
import { ConfigError, loadConfig, type LoadedConfig } from "../config/load.js";
import { clusterSchema } from "../config/cluster-schema.js";
import type { ClawbotConfig } from "../config/schema.js";
import { servesModel } from "../config/cluster-schema.js";
import type { Daemon } from "../daemon/daemon.js";
import { createLogger } from "../logging/logger.js";
import { configDescription, firstRunConfig } from "./first-run.js";
import { createProgressBar } from "./progress-bar.js";
import { tokenLines } from "./start-token.js";
import { modelForStart } from "./start-model.js";

export interface StartOptions {
  config?: string;
  agent?: string;
  gateways?: string;
  model?: string;
  port?: string;
  metricsPort?: string;
  cluster?: string;
  insecureDev?: boolean;
  logLevel?: string;
}

export async function start(options: StartOptions): Promise<void> {
  const environment = process.env;
  const implicitConfig = options.config === undefined && !options.agent && !options.gateways && fs.existsSync("clawbot.yaml");
  const configPath = options.config ?? (implicitConfig ? "clawbot.yaml" : undefined);
  const firstRun = !configPath && !options.agent && !options.gateways;
  // Said before anything else, so a node never runs on a config its user did not expect.
  process.stderr.write(`${configDescription({ configPath, implicit: implicitConfig, agentPath: options.agent, gatewaysPath: options.gateways, environment })}\n`);
  const loaded: LoadedConfig = firstRun
    ? firstRunConfig(environment)
    : loadConfig({ configPath, agentPath: options.agent, gatewaysPath: options.gateways });
  // A config file already had CLAWBOT_METRICS_PORT applied by the loader; first-run defaults take it here.
  const metricsPort =
    options.metricsPort !== undefined
      ? { value: options.metricsPort, from: "--metrics-port" }
      : firstRun && environment.CLAWBOT_METRICS_PORT
        ? { value: environment.CLAWBOT_METRICS_PORT, from: "CLAWBOT_METRICS_PORT" }
        : undefined;
  const config = withCluster(withMetricsPort(withPortOverride(loaded.config, options.port), metricsPort), options.cluster);
  const logger = createLogger(options.logLevel ?? config.log_level);
  // Printed whatever the log level: a node that accepts weak secrets must never run unnoticed.
  if (options.insecureDev) process.stderr.write("WARNING: --insecure-dev: weak JWT secrets are accepted. Never run like this in production.\n");
  if (!firstRun) logger.info({ files: loaded.sources }, "configuration loaded");

  // Signals are handled from here on: before the node is ready they abort the download or load (a partial
  // download is kept and resumes next time); after, they drain in-flight answers and exit 0.
  let daemon: Daemon | undefined;
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) {
      logger.warn("second signal: exiting now");
      process.exit(1);
    }
    stopping = true;
    if (!daemon) {
      logger.info({ signal }, "interrupted before the node was ready");
      logger.flush();
      process.exit(130);
    }
    logger.info({ signal, grace_seconds: config.shutdown_grace }, "shutting down: draining in-flight requests");
    void daemon.close().then(() => {
      logger.info("stopped");
      logger.flush();
      process.exit(0);
    });
  };
  process.on("SIGINT", () => stop("SIGINT"));
  process.on("SIGTERM", () => stop("SIGTERM"));

  // A gateway-only cluster node needs no model file.
  const modelPath = config.agent.engine === "llama" && servesModel(config) ? await modelForStart(options.model, config.agent.model_path, loaded.baseDir, environment) : undefined;
  const loadBar = createProgressBar("Loading model");
  // Imported here, not at the top: the daemon brings node-llama-cpp, fastify, mqtt and SQLite, which `clawbot --help` does not need.
  const { createDaemon } = await import("../daemon/daemon.js");
  daemon = await createDaemon({
    config,
    baseDir: loaded.baseDir,
    modelPath,
    logger,
    insecureDev: options.insecureDev,
    environment,
    onLoadProgress: (fraction) => loadBar.update(fraction),
  }).finally(() => loadBar.stop());

  const lines = [`Clawbot is ready: model ${daemon.engine.info.model} (${daemon.engine.info.engine}, ${daemon.engine.info.parallel} sequences)`];
  for (const gateway of daemon.gateways) {
    lines.push(`  ${gateway.name}`);
    if (gateway.linkPublicKey) lines.push(`    encrypted link (SM): server SM2 public key ${gateway.linkPublicKey}`);
  }
  if (daemon.metrics.port !== undefined) lines.push(`  metrics http://${config.metrics.host}:${daemon.metrics.port}${config.metrics.path}`);
  const websocket = daemon.gateways.find((gateway) => gateway.name.startsWith("websocket"));
  // The web chat is served at the root of the (first) http gateway that has `web` on.
  const webIndex = config.gateways.findIndex((gateway) => gateway.type === "http" && gateway.web);
  const webUrl = webIndex >= 0 ? daemon.gateways[webIndex]?.name.split(" ")[1]?.replace(/\/v1$/, "/") : undefined;
  if (webUrl !== undefined) lines.push(`  web chat ${webUrl} (operator console ${webUrl}console)`);
  lines.push(...(await tokenLines(config, { firstRun, tokenConfigFile: configPath ?? options.gateways, websocketUrl: websocket?.name.split(" ")[1], webUrl })));
  process.stdout.write(`${lines.join("\n")}\n`);
}

/** `--cluster <url>`: cluster mode on that NATS server, with the config's other `cluster:` keys or their defaults. */
export function withCluster(config: ClawbotConfig, url: string | undefined): ClawbotConfig {
  if (url === undefined) return config;
  const result = clusterSchema.safeParse({ ...config.cluster, nats: url });
  if (!result.success) throw new ConfigError(`--cluster: ${result.error.issues.map((issue) => issue.message).join("; ")}, got "${url}"`);
  return { ...config, cluster: result.data };
}

/** `--metrics-port` wins over metrics.port and CLAWBOT_METRICS_PORT. */
function withMetricsPort(config: ClawbotConfig, port: { value: string; from: string } | undefined): ClawbotConfig {
  if (port === undefined) return config;
  const { value, from } = port;
  if (!/^\d{1,5}$/.test(value) || Number(value) > 65535) throw new ConfigError(`${from}: expected a port number (0-65535), got "${value}"`);
  return { ...config, metrics: { ...config.metrics, port: Number(value) } };
}

function withPortOverride(config: ClawbotConfig, port: string | undefined): ClawbotConfig {
  if (port === undefined) return config;
  const value = Number(port);
  if (!Number.isInteger(value) || value < 0 || value > 65535) throw new ConfigError(`--port: expected a port number, got "${port}"`);
  return { ...config, gateways: config.gateways.map((gateway) => (gateway.type === "websocket" || gateway.type === "http" ? { ...gateway, port: value } : gateway)) };
}
