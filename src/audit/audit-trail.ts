// The audit trail of a node: records every request, tool call, refused credential, start and stop in the hash-chained ledger, and ships it.
import fs from "node:fs";
import type { AuditConfig } from "../config/schema.js";
import { ignoredGatewayEvents, type GatewayEvents } from "../gateways/gateway-events.js";
import type { Logger } from "../logging/logger.js";
import type { RequestEnd, RequestObserver } from "../pipeline/request-observer.js";
import type { SqliteDatabase } from "../store/database.js";
import { AuditLedger } from "./audit-ledger.js";
import type { AuditEventKind, AuditKind, AuditSource, AuditStatus } from "./audit-record.js";
import { requestRecordBody } from "./audit-request-record.js";
import { toolCallRecordBody } from "./audit-tool-record.js";
import { startAuditShipping, type AuditShipping, type AuditShippingOptions } from "./audit-shipping.js";
import { AuthFailureBursts } from "./auth-failure-bursts.js";
import { configDigest } from "./config-digest.js";

export interface AuditTrail {
  /**
   * Appends one record per request, before its finish is written (a failed append fails the request), and one per
   * node-side tool call when the call ended (before its request's record; a failed append is logged and counted).
   */
  readonly observer: RequestObserver;
  /** Records auth failures of this gateway (the other channel events are ignored). */
  gatewayEvents(gateway: string): GatewayEvents;
  /** Records the node's start (after the model loaded) or stop (after the drain). */
  recordLifecycle(kind: "start" | "stop", details: Record<string, unknown>): void;
  /**
   * Records a policy reload or change (`config_reload`), a token revocation or an erasure tombstone. Text fields
   * (docs/audit.md: `subject`, `by`, `reason`…) must be strings, null or `{"sm3": hex}`. Throws when it cannot be
   * written, so an admin action that must be audited can fail instead of going unrecorded.
   */
  recordEvent(kind: AuditEventKind, body: Record<string, unknown>): void;
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
  /** The node's effective config: its SM3 digest (secrets left out) goes into the start record. */
  config?: unknown;
  /** Auth failures recorded one by one per gateway per second; the rest of the second is one summary record. */
  authFailuresPerSecond?: number;
  clock?: () => number;
  /** Sinks the node adds beyond `audit.sinks` (in a cluster: the cluster's audit stream). */
  extraSinks?: AuditShippingOptions["extraSinks"];
}

/** Auth failures recorded one by one per gateway per second by default. */
export const defaultAuthFailuresPerSecond = 20;

export function openAuditTrail(config: AuditConfig, options: AuditTrailOptions): AuditTrail {
  const { database, nodeId, logger } = options;
  const clock = options.clock ?? Date.now;
  const ledger = new AuditLedger(database, clock);
  let appendFailures = 0;
  /** Appends a record that fails no request (auth failures, start, stop): a failure is logged and counted. */
  const appendEvent = (kind: AuditKind, body: Record<string, unknown>): void => {
    try {
      ledger.append(kind, body);
    } catch (error) {
      appendFailures += 1;
      logger.error({ err: error, kind }, "the audit record could not be written");
    }
  };
  const bursts = new AuthFailureBursts({
    perWindow: options.authFailuresPerSecond ?? defaultAuthFailuresPerSecond,
    windowMs: 1000,
    clock,
    record: (failure) => appendEvent("auth_failure", { node: nodeId, gateway: failure.gateway, code: failure.code, reason: failure.reason, remote: failure.remote ?? null }),
    recordSuppressed: (summary) => {
      appendEvent("auth_failure", { node: nodeId, gateway: summary.gateway, suppressed: summary.suppressed, codes: summary.codes, since: summary.since, until: summary.until });
      logger.warn({ gateway: summary.gateway, suppressed: summary.suppressed }, "refused credentials in a burst: recorded as one audit record");
    },
  });
  const recordRequest = (end: RequestEnd): void => {
    try {
      ledger.append("request", requestRecordBody(end, config.content, nodeId));
    } catch (error) {
      appendFailures += 1;
      throw error;
    }
  };
  const observer: RequestObserver = {
    // Throws when the record cannot be written: the pipeline fails the request with storage_error (and rolls back its exchange).
    finished: recordRequest,
    // Errors are logged by the pipeline; counted here.
    failed: recordRequest,
    // The call already ran (its effect happened): a record that cannot be written is logged and counted, like an event.
    toolCalled: (start, call) => appendEvent("tool_call", toolCallRecordBody(start, call, config.content, nodeId)),
  };

  const shipping: AuditShipping | undefined =
    config.sinks.length > 0 || (options.extraSinks?.length ?? 0) > 0
      ? startAuditShipping(config.sinks, { source: ledger, database, logger, baseDir: options.baseDir, nodeId, extraSinks: options.extraSinks })
      : undefined;

  const checkpoint = (): void => {
    const head = ledger.head();
    if (head.sequence === 0) return;
    logger.info({ sequence: head.sequence, hash: head.hash }, "audit checkpoint");
    try {
      shipping?.checkpoint({ ...head, nodeId, at: clock() });
    } catch (error) {
      logger.error({ err: error }, "the audit checkpoint could not be shipped");
    }
    ledger.notify();
  };
  const timer = setInterval(checkpoint, config.checkpoint_interval * 1000);
  timer.unref();
  let closed = false;

  return {
    observer,
    source: ledger,
    gatewayEvents: (gateway) => ({
      ...ignoredGatewayEvents,
      authFailed: (code, reason, remote) => bursts.failed({ gateway, code, reason, remote }),
    }),
    recordLifecycle: (kind, details) => {
      const body: Record<string, unknown> = { ...details, node: nodeId, version: packageVersion() };
      if (kind === "start" && options.config !== undefined) body.config_sm3 = configDigest(options.config);
      appendEvent(kind, body);
    },
    recordEvent: (kind, body) => {
      try {
        ledger.append(kind, { ...body, node: nodeId });
      } catch (error) {
        appendFailures += 1;
        throw error;
      }
    },
    status: () => ({ records: ledger.head().sequence, appendFailures, sinks: shipping?.status() ?? [] }),
    close: async () => {
      if (closed) return;
      closed = true;
      clearInterval(timer);
      if (database.open) {
        bursts.flush();
        checkpoint();
      }
      await shipping?.close();
    },
  };
}

let version: string | undefined;

/** This package's version (read once; "unknown" when package.json is not where it should be). */
function packageVersion(): string {
  if (version === undefined) {
    try {
      version = String((JSON.parse(fs.readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as { version?: unknown }).version ?? "unknown");
    } catch {
      version = "unknown";
    }
  }
  return version;
}
