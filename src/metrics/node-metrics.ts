// The node's Prometheus metrics: one prom-client registry, fed by the pipeline and the gateways, served on its own listener.
import type { MetricsConfig } from "../config/schema.js";
import type { LanguageModel } from "../engine/language-model.js";
import type { Gateway } from "../gateways/gateway.js";
import type { GatewayEvents } from "../gateways/gateway-events.js";
import type { Logger } from "../logging/logger.js";
import type { RequestObserver } from "../pipeline/request-observer.js";
import type { AuditStatus } from "../audit/audit-record.js";

export interface NodeMetrics {
  readonly observer: RequestObserver;
  /** The channel events of one gateway, labelled with its type. */
  gatewayEvents(gateway: string): GatewayEvents;
  /** Opens the metrics listener (when enabled); gauges read the gateways' status() and the engine on every scrape. */
  start(sources: { gateways: readonly Gateway[]; audit?: () => AuditStatus }): Promise<void>;
  /** The model finished loading after this many seconds. */
  modelLoaded(seconds: number): void;
  /** The port the listener is bound to (undefined when disabled or not started). */
  readonly port: number | undefined;
  close(): Promise<void>;
}

export interface NodeMetricsOptions {
  engine: LanguageModel;
  logger: Logger;
}

// PLACEHOLDER (lead): does nothing until the metrics engineer replaces it.
export function createNodeMetrics(_config: MetricsConfig, _options: NodeMetricsOptions): NodeMetrics {
  const ignore = () => {};
  return {
    observer: {},
    gatewayEvents: () => ({ connectionOpened: ignore, connectionClosed: ignore, authFailed: ignore, frameReceived: ignore, frameSent: ignore, frameRefused: ignore }),
    start: async () => {},
    modelLoaded: ignore,
    port: undefined,
    close: async () => {},
  };
}
