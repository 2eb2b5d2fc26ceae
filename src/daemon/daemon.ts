// Builds a node from its config, starts everything in order and closes it in reverse order.
import path from "node:path";
import { authSchema, type ClawbotConfig, type GatewayConfig } from "../config/schema.js";
import { clawbotHome } from "../config/paths.js";
import { createEngine } from "../engine/create-engine.js";
import { DeferredEngine } from "../engine/deferred-engine.js";
import type { LanguageModel } from "../engine/language-model.js";
import type { Gateway, WebsocketEndpoint } from "../gateways/gateway.js";
import { HttpListeners } from "../gateways/http-listeners.js";
import { createGateway, resolveGatewayConfig } from "../gateways/registry.js";
import type { Logger } from "../logging/logger.js";
import { Pipeline } from "../pipeline/pipeline.js";
import type { RequestObserver } from "../pipeline/request-observer.js";
import { loadPlugins } from "../plugins/plugin-loader.js";
import type { ToolRegistry } from "../tools/tool-registry.js";
import { openNodeTools } from "./node-tools.js";
import { openNodeAgents, type NodeAgents } from "./node-agents.js";
import { PluginHost, type HookTiming } from "../plugins/plugin-host.js";
import { createPolicyEnforcement, policyChangeRecord } from "../security/policy/policy-enforcement.js";
import type { PolicyStore } from "../security/policy/policy-store.js";
import type { AuthorizeRequest } from "../security/policy/authorizer.js";
import { createAuthenticator, withRevocation } from "../security/authenticator.js";
import { RevocationList } from "../security/revocation-list.js";
import { createAdminActions } from "./admin-actions.js";
import { openDatabase, type SqliteDatabase } from "../store/database.js";
import { RequestLedger } from "../store/request-ledger.js";
import { SessionRepository } from "../store/session-repository.js";
import type { SessionStore } from "../store/session-store.js";
import type { SessionReader } from "../store/session-reader.js";
import { listSessions } from "../store/session-listing.js";
import { StoreHealth } from "../store/store-health.js";
import { ensurePrivateDirectory } from "../core/private-files.js";
import { openAuditTrail, type AuditTrail } from "../audit/audit-trail.js";
import { combineGatewayEvents, type GatewayEvents } from "../gateways/gateway-events.js";
import { gatewayStatusOf } from "../gateways/gateway-status.js";
import { observeAuthenticator } from "../gateways/observed-authenticator.js";
import { requestLog } from "../logging/request-log.js";
import { createNodeMetrics, type NodeMetrics } from "../metrics/node-metrics.js";
import { checkExposure } from "./exposure-check.js";
import { acquirePidFile, type PidFile } from "./pid-file.js";
import { type SessionExpiry, startSessionExpiry } from "./session-expiry.js";
import type { KnowledgeService } from "../knowledge/knowledge-service.js";
import type { ClusterNode } from "../cluster/cluster-node.js";
import { servesModel } from "../config/cluster-schema.js";
import { SingletonGateway } from "../cluster/singleton-gateway.js";
import type { AuditSinkContext } from "../audit/sinks/audit-sink.js";

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
  /** More pipeline observers, after the audit trail, the metrics and the request log (tests record requests with it). */
  extraObservers?: RequestObserver[];
  /** More subscribers to each gateway's channel events, by gateway type (tests record events with it). */
  extraGatewayEvents?: (gateway: string) => GatewayEvents;
}

export interface Daemon {
  readonly gateways: Gateway[];
  readonly pipeline: Pipeline;
  /** The loaded plugins, in config order. */
  readonly plugins: PluginHost;
  readonly engine: LanguageModel;
  readonly sessions: SessionRepository;
  /** The node's SQLite database (data_dir/clawbot.db). */
  readonly database: SqliteDatabase;
  /** The Prometheus metrics (their listener is closed with the node). */
  readonly metrics: NodeMetrics;
  /** The audit ledger and its shipping; undefined with `audit.enabled: false`. */
  readonly audit: AuditTrail | undefined;
  /** Revoked token ids and subjects (POST /admin/tokens/revoke), checked by every gateway's authenticator. */
  readonly revocations: RevocationList;
  /** The security policy in force (security.policy_file): current(), replace() for the admin API; no file: no role checks. */
  readonly policy: PolicyStore;
  /** The knowledge base the retrieve stage searches; undefined without `knowledge.enabled`. */
  readonly knowledge: KnowledgeService | undefined;
  /** The tools the agent may call (built-ins, plugins, MCP servers). */
  readonly tools: ToolRegistry;
  /** The node's part in the cluster (config `cluster`); undefined when it runs alone. */
  readonly cluster: ClusterNode | undefined;
  /** Drains in-flight requests (up to shutdown_grace seconds), then stops gateways, engine and store. */
  close(): Promise<void>;
}

export async function createDaemon(options: DaemonOptions): Promise<Daemon> {
  const { config, baseDir, logger } = options;
  // Custom entries naming a built-in protocol (enterprise_mqtt) become that gateway's config, checked like the others.
  const gatewayConfigs = config.gateways.map((entry, index) => resolveGatewayConfig(entry, `gateways[${index}]`));
  checkExposure({ ...config, gateways: gatewayConfigs }, { insecureDev: options.insecureDev ?? false, logger });
  // Plugins load first: a plugin file that fails to load stops the start, naming the file, before anything listens.
  // Hooks run only once requests flow, long after `metrics` (below) exists: their timings go to it.
  const onHook = (timing: HookTiming) => metrics.pluginHook(timing);
  const plugins = new PluginHost(await loadPlugins(config.plugins, { baseDir }), { timeoutMs: config.plugin_timeout * 1000, logger, onHook });
  if (plugins.plugins.length > 0) logger.info({ plugins: plugins.plugins.map((plugin) => plugin.name) }, "plugins loaded");
  const dataDir = config.agent.data_dir ? path.resolve(baseDir, config.agent.data_dir) : path.join(clawbotHome(options.environment), "data");
  let database: ReturnType<typeof openDatabase> | undefined;
  let pipeline: Pipeline | undefined;
  let sessionExpiry: SessionExpiry | undefined;
  let audit: AuditTrail | undefined;
  let pidFile: PidFile | undefined;
  let policy: PolicyStore | undefined;
  let knowledge: KnowledgeService | undefined;
  let tools: ToolRegistry | undefined;
  let agents: NodeAgents | undefined;
  let cluster: ClusterNode | undefined;
  /** Set once the node started: a stop is recorded only after a recorded start. */
  let auditedStart = false;
  const storeHealth = new StoreHealth();
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
  const metrics = createNodeMetrics(config.metrics, { engine, logger });
  const started: Gateway[] = [];
  // Reverse of start order, with the drain first: in-flight answers finish (or are cancelled) before anything closes.
  // Gateways that can pause stop taking new requests before the drain (MQTT leaves them on the broker).
  const close = async () => {
    const stopping = [...started].reverse();
    const steps: [string, () => Promise<unknown> | void][] = [
      ["pause gateways", () => Promise.all(stopping.map((gateway) => gateway.pause?.()))],
      ["drain", () => pipeline?.drain(config.shutdown_grace * 1000)],
      ...stopping.map((gateway): [string, () => Promise<void>] => [gateway.name, () => gateway.stop()]),
      ["cluster", () => cluster?.close(config.shutdown_grace * 1000)],
      ["tools", () => tools?.close()],
      ["knowledge base", () => knowledge?.close()],
      ["agent engines", () => agents?.close()],
      ["engine", () => engine.close()],
      ["session expiry", () => sessionExpiry?.stop()],
      ["policy watch", () => policy?.close()],
      ["audit stop record", () => void (auditedStart && audit?.recordLifecycle("stop", { reason: "shutdown" }))],
      ["audit", () => audit?.close()],
      ["metrics", () => metrics.close()],
      ["store", () => void database?.close()],
      ["pid file", () => pidFile?.release()],
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
    // In a cluster, generations go through the cluster's work queue (this node's model serves it when it is a worker).
    if (config.cluster) {
      const { openClusterNode, clusterNodeId } = await import("../cluster/cluster-node.js");
      cluster = openClusterNode({ config: config.cluster, nodeId: clusterNodeId(config.cluster, config.node_id), localEngine: engine, logger: logger.child({ cluster: config.cluster.name }) });
    }
    const pipelineEngine = cluster?.engine ?? engine;
    // The agents first: a gateway naming an agent that does not exist, or an agent's model that cannot be found, stops the start.
    agents = await openNodeAgents(config, { engine: pipelineEngine, gateways: gatewayConfigs, baseDir, dataDir, logger, environment: options.environment });
    const directory = ensurePrivateDirectory(dataDir);
    if (directory.widerMode !== undefined) {
      logger.warn(
        { dataDir, mode: directory.widerMode.toString(8) },
        `the data directory ${dataDir} is readable by other users (mode ${directory.widerMode.toString(8)}); run chmod 700 on it`,
      );
    }
    // One node per data directory (a second one would share the database), and `clawbot restore` sees a running node.
    pidFile = acquirePidFile(dataDir);
    if (pidFile.replacedStalePid !== undefined) logger.info({ pid: pidFile.replacedStalePid }, "replaced the pid file of a node that is gone");
    database = openDatabase(dataDir);
    const localSessions = new SessionRepository(
      database,
      { maxMessages: config.sessions.max_turns, retentionMs: config.sessions.retention_days * 24 * 60 * 60 * 1000 },
      storeHealth,
    );
    // Each node expires its own replica of the sessions (the same rows everywhere, by its own clock).
    sessionExpiry = startSessionExpiry(localSessions, logger);
    const sessions: SessionStore = cluster ? cluster.replicateSessions(localSessions) : localSessions;
    // In a cluster with an MQTT gateway, its request ledger's changes reach every node (a new primary resumes what the
    // old one accepted and drops what it answered), kept on the stream as long as the gateways keep answered records.
    const mqttExpiries = gatewayConfigs.flatMap((entry) => (entry.type === "mqtt" ? [entry.session_expiry] : []));
    const ledgerReplica = cluster && mqttExpiries.length > 0 ? cluster.replicateRequestLedger(new RequestLedger(database), Math.max(600, ...mqttExpiries) * 1000) : undefined;
    const requestLedger = ledgerReplica?.ledger ?? new RequestLedger(database);
    const revocations = new RevocationList(database);
    const store = database;
    // The knowledge base (`knowledge.enabled`): its own SQLite file; loaded only when enabled (jieba, sqlite-vec).
    if (config.knowledge.enabled) {
      const { openKnowledge } = await import("../knowledge/knowledge-service.js");
      const onSearch = (mode: string, seconds: number, outcome: string) => metrics.knowledgeSearched(mode, seconds, outcome);
      knowledge = await openKnowledge(config.knowledge, { dataDir, baseDir, engine, logger, threads: config.agent.threads, onSearch });
      // Documents ingested on another node of the cluster are applied to this node's knowledge base too.
      if (knowledge && cluster) cluster.replicateKnowledge(knowledge);
    }
    const nodeTools = await openNodeTools(config, { plugins, baseDir, logger, knowledge: knowledge?.retriever });
    tools = nodeTools;
    if (config.audit.enabled) {
      // In a cluster, every node's records also go to the cluster's audit stream (from their own cursor, like any sink).
      const extraSinks = cluster ? [(context: AuditSinkContext) => (cluster as ClusterNode).auditSink(context)] : [];
      audit = openAuditTrail(config.audit, { database, nodeId: config.node_id, logger, baseDir, config, extraSinks });
    }
    // The security policy: a broken file stops the start; edits are watched, and every change is audited (config_reload).
    const enforcement = createPolicyEnforcement(config.security, {
      baseDir,
      loadedPlugins: plugins.plugins.map((plugin) => plugin.name),
      logger,
      onChange: (change) => audit?.recordEvent("config_reload", policyChangeRecord(change)),
    });
    policy = enforcement.store;
    const { authorizer } = enforcement;
    // The audit ledger first: when its record cannot be written, the others are not told of a finish the client never gets.
    const observers = [...(audit ? [audit.observer] : []), metrics.observer, requestLog(logger), ...(options.extraObservers ?? [])];
    pipeline = new Pipeline({
      agent: config.agent,
      engine: pipelineEngine,
      sessions,
      logger,
      plugins,
      limits: config.limits,
      observers,
      transaction: (work) => store.transaction(work)(),
      tools,
      toolsConfig: config.tools,
      agents: agents.directory,
      ...(knowledge ? { knowledge: knowledge.stage } : {}),
      ...(authorizer ? { authorize: (request: AuthorizeRequest) => authorizer.authorize(request) } : {}),
    });
    // The http gateway's admin API (scope admin): policy, sessions, tools, revocation, erasure.
    // In a cluster, an erased subject's sessions (and MQTT ledger entries) are erased on every node (`sessions.eraser`).
    const erasers = [sessions.eraser, ledgerReplica?.eraser].flatMap((eraser) => (eraser ? [eraser] : []));
    // The console's status (GET /admin/status) reads the gateways built below, the metrics, the audit chain, the knowledge base.
    const consoleSources = {
      nodeId: config.node_id,
      engine,
      ready: () => (cluster ? cluster.ready() : engine.ready),
      registry: metrics.registry,
      auditEnabled: audit !== undefined,
      gatewayStatuses: () => gateways.map((gateway, at) => gatewayStatusOf(gateway, gatewayTypes[at] ?? "custom")),
      ...(cluster ? { cluster } : {}),
      ...(knowledge ? { knowledge } : {}),
      policy: () => enforcement.store.current(),
    };
    const admin = createAdminActions({ database, dataDir, revocations, audit, logger, policy: enforcement.store, tools: nodeTools, console: consoleSources, ...(erasers.length > 0 ? { erasers } : {}) });
    // The clients' own sessions (`sessions`/`history` frames): read from this node's database (in a cluster, its replica).
    const sessionReader: SessionReader = {
      list: (owner, page) => listSessions(database as SqliteDatabase, { ...page, owner, titles: true }),
      history: (owner, session) => localSessions.history(owner, session),
    };
    const listeners = new HttpListeners({ baseDir });
    const httpListener = gatewayConfigs.find((entry) => entry.type === "http");
    const gateways: Gateway[] = [];
    const gatewayTypes = gatewayConfigs.map((entry) => (entry.type === "custom" ? entry.protocol : entry.type));
    for (const [index, gatewayConfig] of gatewayConfigs.entries()) {
      const auth = gatewayConfig.type === "custom" ? authSchema.parse(gatewayConfig.auth ?? { type: "none" }) : gatewayConfig.auth;
      const type = gatewayConfig.type === "custom" ? gatewayConfig.protocol : gatewayConfig.type;
      // Metrics count and the audit ledger records what never reaches the pipeline: connections, refused credentials and frames.
      const events = combineGatewayEvents([
        metrics.gatewayEvents(type),
        ...(audit ? [audit.gatewayEvents(type)] : []),
        ...(options.extraGatewayEvents ? [options.extraGatewayEvents(type)] : []),
      ]);
      const authenticator = observeAuthenticator(withRevocation(await createAuthenticator(auth, baseDir), revocations), events);
      const context = {
        pipeline,
        authenticator,
        engine,
        events,
        logger: logger.child({ gateway: gatewayConfig.type }),
        baseDir,
        dataDir,
        isReady: () => (cluster ? cluster.ready() : engine.ready),
        storeFailure: () => storeHealth.reason,
        requestLedger,
        modelAliases: config.agent.model_aliases,
        gatewayStatuses: () => gateways.map((gateway, at) => gatewayStatusOf(gateway, gatewayTypes[at] ?? "custom")),
        toolServers: () => nodeTools.servers(),
        ...(cluster ? { clusterStatus: () => (cluster as ClusterNode).status() } : {}),
        admin,
        sessions: sessionReader,
        listeners,
        ...(httpListener ? { httpListener } : {}),
        websocketEndpoints: () => websocketEndpoints(gatewayConfigs, gateways),
      };
      const where = `gateways[${index}]`;
      // In a cluster, an MQTT gateway is by default the primary's alone (one client id on the broker): standbys wait.
      const singleton = cluster && gatewayConfig.type === "mqtt" && gatewayConfig.cluster_singleton;
      gateways.push(
        singleton && cluster
          ? new SingletonGateway({
              create: () => createGateway(gatewayConfig, context, listeners, where),
              leadership: cluster.leadership,
              type,
              name: `mqtt ${brokerHost(gatewayConfig.broker)}`,
              logger: context.logger,
            })
          : await createGateway(gatewayConfig, context, listeners, where),
      );
    }
    // The metrics listener opens before the model loads: a slow load is visible in the scrapes.
    await metrics.start({
      gateways,
      ...(audit ? { audit: () => (audit as AuditTrail).status() } : {}),
      ...(cluster ? { cluster: () => (cluster as ClusterNode).status() } : {}),
    });
    // Gateways listen first so /readyz answers 503 while the model loads; requests get `unavailable` until then.
    for (const gateway of gateways) {
      await gateway.start();
      started.push(gateway);
      logger.info({ gateway: gateway.name }, "gateway listening");
    }
    // A gateway-only cluster node (cluster.roles without worker) loads no model: the cluster's workers generate.
    if (servesModel(config)) {
      const loadStartedAt = performance.now();
      const loaded = await createEngine(config.agent, {
        modelPath: options.modelPath,
        baseDir,
        dataDir,
        logger,
        onLoadProgress: options.onLoadProgress,
        watermark: config.watermark,
      });
      metrics.modelLoaded((performance.now() - loadStartedAt) / 1000);
      engine.resolve(loaded);
      logger.info({ ...loaded.info }, "model ready");
    } else {
      logger.info({ roles: config.cluster?.roles }, "gateway-only cluster node: no model loaded; the cluster's workers generate");
    }
    // Agents with their own model_path: their engines load after the node's.
    await agents.load();
    // With knowledge.embed_with_engine, the knowledge base's vectors come from the loaded engine (checked against those stored).
    if (engine.ready) await knowledge?.engineReady();
    const info = (cluster?.engine ?? engine).info;
    audit?.recordLifecycle("start", { model: info.model, engine: info.engine, gateways: gateways.map((gateway) => gateway.name) });
    auditedStart = true;
    return { gateways, pipeline, plugins, engine, sessions: localSessions, database, metrics, audit, revocations, policy: enforcement.store, knowledge, tools, cluster, close };
  } catch (error) {
    await close();
    throw error;
  }
}

/** The WebSocket gateways' bound ports, paths and auth, in config order (gateways[i] is gatewayConfigs[i]'s). */
function websocketEndpoints(configs: readonly GatewayConfig[], gateways: readonly Gateway[]): WebsocketEndpoint[] {
  return configs.flatMap((entry, index) => {
    if (entry.type !== "websocket") return [];
    const port = (gateways[index] as { port?: number } | undefined)?.port;
    return [{ port, path: entry.path, tls: entry.tls !== undefined, auth: entry.auth.type }];
  });
}

/** A broker URL's host and port only (no credentials), for a gateway's name. */
function brokerHost(broker: string): string {
  try {
    return new URL(broker).host;
  } catch {
    return "broker";
  }
}
