// Builds a node from its config, starts everything in order and closes it in reverse order.
import path from "node:path";
import { authSchema, type ClawbotConfig } from "../config/schema.js";
import { clawbotHome } from "../config/paths.js";
import { createEngine } from "../engine/create-engine.js";
import { DeferredEngine } from "../engine/deferred-engine.js";
import type { LanguageModel } from "../engine/language-model.js";
import type { Gateway } from "../gateways/gateway.js";
import { HttpListeners } from "../gateways/http-listeners.js";
import { createGateway, resolveGatewayConfig } from "../gateways/registry.js";
import type { Logger } from "../logging/logger.js";
import { Pipeline } from "../pipeline/pipeline.js";
import { loadPlugins } from "../plugins/plugin-loader.js";
import { PluginHost } from "../plugins/plugin-host.js";
import { createAuthenticator } from "../security/authenticator.js";
import { openDatabase } from "../store/database.js";
import { RequestLedger } from "../store/request-ledger.js";
import { SessionRepository } from "../store/session-repository.js";
import { checkExposure } from "./exposure-check.js";

export interface DaemonOptions {
  config: ClawbotConfig;
  /** Directory relative paths in the config resolve against. */
  baseDir: string;
  /** The GGUF file to load (already resolved or downloaded); required for the llama engine. */
  modelPath?: string;
  logger: Logger;
  /** Accept weak JWT secrets with a warning instead of refusing to start. */
  insecureDev?: boolean;
  onLoadProgress?: (fraction: number) => void;
  environment?: NodeJS.ProcessEnv;
}

export interface Daemon {
  readonly gateways: Gateway[];
  readonly pipeline: Pipeline;
  /** The loaded plugins, in config order. */
  readonly plugins: PluginHost;
  readonly engine: LanguageModel;
  readonly sessions: SessionRepository;
  /** Drains in-flight requests (up to shutdown_grace seconds), then stops gateways, engine and store. */
  close(): Promise<void>;
}

export async function createDaemon(options: DaemonOptions): Promise<Daemon> {
  const { config, baseDir, logger } = options;
  // Custom entries naming a built-in protocol (enterprise_mqtt) become that gateway's config, checked like the others.
  const gatewayConfigs = config.gateways.map((entry, index) => resolveGatewayConfig(entry, `gateways[${index}]`));
  checkExposure({ ...config, gateways: gatewayConfigs }, { insecureDev: options.insecureDev ?? false, logger });
  // Plugins load first: a plugin file that fails to load stops the start, naming the file, before anything listens.
  const plugins = new PluginHost(await loadPlugins(config.plugins, { baseDir }), { timeoutMs: config.plugin_timeout * 1000, logger });
  if (plugins.plugins.length > 0) logger.info({ plugins: plugins.plugins.map((plugin) => plugin.name) }, "plugins loaded");
  const dataDir = config.agent.data_dir ? path.resolve(baseDir, config.agent.data_dir) : path.join(clawbotHome(options.environment), "data");
  let database: ReturnType<typeof openDatabase> | undefined;
  let pipeline: Pipeline | undefined;
  const engine = new DeferredEngine({
    engine: config.agent.engine,
    model: options.modelPath ? path.basename(options.modelPath).replace(/\.gguf$/i, "") : config.agent.engine,
    contextSize: config.agent.context_size ?? 0,
    parallel: config.agent.parallel,
    maxQueue: config.agent.max_queue,
    threads: config.agent.threads,
    chatTemplate: false,
    backend: "loading",
  });
  const started: Gateway[] = [];
  // Reverse of start order, with the drain first: in-flight answers finish (or are cancelled) before anything closes.
  // Gateways that can pause stop taking new requests before the drain (MQTT leaves them on the broker).
  const close = async () => {
    const stopping = [...started].reverse();
    const steps: [string, () => Promise<unknown> | void][] = [
      ["pause gateways", () => Promise.all(stopping.map((gateway) => gateway.pause?.()))],
      ["drain", () => pipeline?.drain(config.shutdown_grace * 1000)],
      ...stopping.map((gateway): [string, () => Promise<void>] => [gateway.name, () => gateway.stop()]),
      ["engine", () => engine.close()],
      ["store", () => void database?.close()],
    ];
    started.length = 0;
    for (const [name, step] of steps) {
      try {
        await step();
      } catch (error) {
        logger.error({ err: error, step: name }, "error during shutdown");
      }
    }
  };
  try {
    database = openDatabase(dataDir);
    const sessions = new SessionRepository(database);
    const requestLedger = new RequestLedger(database);
    pipeline = new Pipeline({ agent: config.agent, engine, sessions, logger, plugins });
    const listeners = new HttpListeners();
    const gateways: Gateway[] = [];
    for (const [index, gatewayConfig] of gatewayConfigs.entries()) {
      const auth = gatewayConfig.type === "custom" ? authSchema.parse(gatewayConfig.auth ?? { type: "none" }) : gatewayConfig.auth;
      const authenticator = await createAuthenticator(auth, baseDir);
      const context = { pipeline, authenticator, engine, logger: logger.child({ gateway: gatewayConfig.type }), baseDir, isReady: () => engine.ready, requestLedger };
      gateways.push(await createGateway(gatewayConfig, context, listeners, `gateways[${index}]`));
    }
    // Gateways listen first so /readyz answers 503 while the model loads; requests get `unavailable` until then.
    for (const gateway of gateways) {
      await gateway.start();
      started.push(gateway);
      logger.info({ gateway: gateway.name }, "gateway listening");
    }
    const loaded = await createEngine(config.agent, { modelPath: options.modelPath, baseDir, dataDir, logger, onLoadProgress: options.onLoadProgress });
    engine.resolve(loaded);
    logger.info({ ...loaded.info }, "model ready");
    return { gateways, pipeline, plugins, engine, sessions, close };
  } catch (error) {
    await close();
    throw error;
  }
}
