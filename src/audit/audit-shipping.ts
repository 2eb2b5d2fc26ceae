// Ships the audit ledger to its sinks (file, syslog, http), each from its durable cursor, in order, at least once.
import type { AuditSinkConfig } from "../config/schema.js";
import type { Logger } from "../logging/logger.js";
import type { SqliteDatabase } from "../store/database.js";
import type { AuditCheckpoint, AuditSinkStatus, AuditSource } from "./audit-record.js";

export interface AuditShipping {
  status(): AuditSinkStatus[];
  /** Writes a checkpoint to every sink that is up (not kept: the next one supersedes it). */
  checkpoint(checkpoint: AuditCheckpoint): void;
  /** Stops shipping; waits briefly for sends in flight (their records stay unacknowledged and are sent again next start). */
  close(): Promise<void>;
}

export interface AuditShippingOptions {
  source: AuditSource;
  /** Where the sinks' cursors live (table audit_sink_cursors). */
  database: SqliteDatabase;
  logger: Logger;
  /** Relative file paths (the file sink, CA files) resolve against it. */
  baseDir: string;
  nodeId: string;
}

export function startAuditShipping(_sinks: AuditSinkConfig[], _options: AuditShippingOptions): AuditShipping {
  throw new Error("startAuditShipping: not built yet");
}
