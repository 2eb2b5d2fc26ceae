// The audit trail of a node: records every request, refused credential, start and stop in the hash-chained ledger, and ships it.
import type { AuditConfig } from "../config/schema.js";
import type { GatewayEvents } from "../gateways/gateway-events.js";
import type { Logger } from "../logging/logger.js";
import type { RequestObserver } from "../pipeline/request-observer.js";
import type { SqliteDatabase } from "../store/database.js";
import type { AuditSource, AuditStatus } from "./audit-record.js";

export interface AuditTrail {
  /** Appends one record per request, before its finish is written (a failed append fails the request). */
  readonly observer: RequestObserver;
  /** Records auth failures of this gateway (the other channel events are ignored). */
  gatewayEvents(gateway: string): GatewayEvents;
  /** Records the node's start (after the model loaded) or stop (after the drain). */
  recordLifecycle(kind: "start" | "stop", details: Record<string, unknown>): void;
  readonly source: AuditSource;
  status(): AuditStatus;
  /** Stops checkpoints and shipping (the sinks' cursors stay in the database). */
  close(): Promise<void>;
}

export interface AuditTrailOptions {
  database: SqliteDatabase;
  nodeId: string;
  logger: Logger;
  /** Relative sink paths (files, CA files) resolve against it. */
  baseDir: string;
}

export function openAuditTrail(_config: AuditConfig, _options: AuditTrailOptions): AuditTrail {
  throw new Error("openAuditTrail: not built yet");
}
