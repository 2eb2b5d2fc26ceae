// The node's Prometheus metrics: one prom-client registry, fed by the pipeline and the gateways, served on its own listener.
import type { MetricsConfig } from "../config/schema.js";
import type { LanguageModel } from "../engine/language-model.js";
import type { Gateway } from "../gateways/gateway.js";
import type { GatewayEvents } from "../gateways/gateway-events.js";
import type { Logger } from "../logging/logger.js";
import type { RequestObserver } from "../pipeline/request-observer.js";
import type { HookTiming } from "../plugins/plugin-host.js";
import type { AuditStatus } from "../audit/audit-record.js";
import type { Registry } from "prom-client";
import { auditMetrics } from "./audit-metrics.js";
import { channelMetrics } from "./channel-metrics.js";
import { clusterMetrics, type ClusterMetricsStatus } from "./cluster-metrics.js";
import { engineMetrics } from "./engine-metrics.js";
import { hostMetrics } from "./host-metrics.js";
import { knowledgeMetrics } from "./knowledge-metrics.js";
import { MetricsListener } from "./metrics-listener.js";
import { createMetricsRegistry } from "./metrics-registry.js";
import { pluginMetrics } from "./plugin-metrics.js";
import { requestMetrics } from "./request-metrics.js";
import { toolMetrics } from "./tool-metrics.js";

export interface NodeMetrics {
  readonly observer: RequestObserver;
  /** The channel events of one gateway, labelled with its type. */
  gatewayEvents(gateway: string): GatewayEvents;
  /** The PluginHost's `onHook`: each hook call's duration and failure. */
  pluginHook(timing: HookTiming): void;
  /**
   * Opens the metrics listener (when enabled); gauges read the gateways' status() and the engine on every scrape, and
   * the cluster node's status() when the node is in a cluster.
   */
  start(sources: { gateways: readonly Gateway[]; audit?: () => AuditStatus; cluster?: () => ClusterMetricsStatus }): Promise<void>;
  /** The model finished loading after this many seconds. */
  modelLoaded(seconds: number): void;
  /** One knowledge-base search of the retrieve stage: its mode, duration and outcome ("found", "empty", an error code). */
  knowledgeSearched(mode: string, seconds: number, outcome: string): void;
  /** The port the listener is bound to (undefined when disabled or not started). */
  readonly port: number | undefined;
  /** The registry itself (tests, and the dashboard check, read it without HTTP). */
  readonly registry: Registry;
  close(): Promise<void>;
}

export interface NodeMetricsOptions {
  engine: LanguageModel;
  logger: Logger;
}

export function createNodeMetrics(config: MetricsConfig, options: NodeMetricsOptions): NodeMetrics {
  const registry = createMetricsRegistry();
  const requests = requestMetrics(registry);
  const plugins = pluginMetrics(registry);
  const engine = engineMetrics(registry, options.engine);
  const channels = channelMetrics(registry);
  const knowledge = knowledgeMetrics(registry);
  const tools = toolMetrics(registry);
  hostMetrics(registry);
  let listener: MetricsListener | undefined;
  let closed = false;
  return {
    observer: {
      accepted: (request) => requests.accepted?.(request),
      firstToken: (request, ttftMs) => requests.firstToken?.(request, ttftMs),
      toolCalled: (request, call) => tools.toolCalled?.(request, call),
      finished: (request) => {
        requests.finished?.(request);
        plugins.observer.finished?.(request);
      },
      failed: (request) => {
        requests.failed?.(request);
        plugins.observer.failed?.(request);
      },
    },
    gatewayEvents: (gateway) => channels.events(gateway),
    pluginHook: (timing) => {
      try {
        plugins.hookTimed(timing);
      } catch {
        // A metric never fails a request.
      }
    },
    async start(sources) {
      channels.watch(sources.gateways);
      if (sources.audit) auditMetrics(registry, sources.audit);
      if (sources.cluster) clusterMetrics(registry, sources.cluster);
      if (!config.enabled || closed) return;
      listener = await MetricsListener.open({
        host: config.host,
        port: config.port,
        path: config.path,
        token: config.token,
        exposition: async () => ({ body: await registry.metrics(), contentType: registry.contentType }),
        logger: options.logger,
      });
      options.logger.info({ host: config.host, port: listener.port, path: config.path }, "metrics listening");
    },
    modelLoaded: (seconds) => engine.modelLoaded(seconds),
    knowledgeSearched: (mode, seconds, outcome) => {
      try {
        knowledge.searched(mode, seconds, outcome);
      } catch {
        // A metric never fails a request.
      }
    },
    get port() {
      return listener?.port;
    },
    registry,
    async close() {
      closed = true;
      engine.close();
      await listener?.close();
      listener = undefined;
    },
  };
}
