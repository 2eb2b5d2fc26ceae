// What the shipper drives: one destination of audit records (file, syslog, http) that sends in order and says what it surely delivered.
import type { Logger } from "../../logging/logger.js";
import type { AuditCheckpoint, AuditSinkStatus, StoredAuditRecord } from "../audit-record.js";

export type AuditSinkType = AuditSinkStatus["type"];

export interface AuditSink {
  readonly type: AuditSinkType;
  /** Where it ships (the file's absolute path, the URL): the cursor's default name is `type:destination`. */
  readonly destination: string;
  /** Records per send. */
  readonly batchSize: number;
  /** Delivers records in order; rejects when it could not (the shipper then resends from its cursor after a pause). */
  send(records: StoredAuditRecord[]): Promise<void>;
  /** Delivers a checkpoint (sequence and head hash); rejects like send. */
  sendCheckpoint(checkpoint: AuditCheckpoint): Promise<void>;
  /**
   * The newest sequence the receiver surely holds. File and HTTP sinks confirm each send (fsync, 2xx); syslog over
   * TCP has no acknowledgement, so its confirmation trails the writes (docs/audit.md, "Delivery").
   */
  confirmed(): number;
  /** Milliseconds until confirmed() moves on by itself; undefined when nothing sent waits for confirmation. */
  pendingConfirmationMs(): number | undefined;
  /**
   * The failure that lost records sent but not confirmed (a dropped connection), once: the shipper then resends
   * from its cursor. Undefined when nothing was lost since the last call.
   */
  takeLoss(): Error | undefined;
  /** Closes the connection or file; a sink that can confirm what it sent on the way out (a clean TCP close) does. */
  close(): Promise<void>;
}

/** What every sink is built with. */
export interface AuditSinkContext {
  nodeId: string;
  /** Relative file paths (the file sink, CA files) resolve against it. */
  baseDir: string;
  logger: Logger;
  /** Wakes the shipper: the sink lost its connection (and with it what it had not confirmed). */
  notify: () => void;
}
