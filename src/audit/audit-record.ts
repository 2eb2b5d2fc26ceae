// The shapes of the audit ledger: a record as stored (numbered, hash-chained) and what sinks read it through.

/** What a record is about. */
export type AuditKind = "request" | "tool_call" | "auth_failure" | "start" | "stop" | "config_reload" | "token_revocation" | "erasure";

/** The kinds other parts of the node record through `AuditTrail.recordEvent`. */
export type AuditEventKind = Extract<AuditKind, "config_reload" | "token_revocation" | "erasure">;

/** One record as the ledger stores and ships it. */
export interface StoredAuditRecord {
  /** 1, 2, 3… without gaps. */
  sequence: number;
  /** Epoch milliseconds when it was appended. */
  recordedAt: number;
  kind: AuditKind;
  /** The record's fields (texts as `audit.content` says), as JSON. */
  body: Record<string, unknown>;
  /** Hex SM3(previous hash ‖ canonical record); the first record chains from 64 zeros. */
  hash: string;
}

/** The chain's newest record. */
export interface AuditHead {
  sequence: number;
  hash: string;
}

/** A checkpoint the ledger announces periodically: sinks write it so a copy outside the box pins the chain's head. */
export interface AuditCheckpoint extends AuditHead {
  nodeId: string;
  /** Epoch milliseconds. */
  at: number;
}

/** What sinks read the ledger through. */
export interface AuditSource {
  /** Records after `sequence`, in order, at most `limit`. */
  after(sequence: number, limit: number): StoredAuditRecord[];
  head(): AuditHead;
  /** Called after every append (and checkpoint); returns the unsubscribe function. */
  subscribe(listener: () => void): () => void;
}

/** One sink's shipping state, for the metrics and `/readyz`. */
export interface AuditSinkStatus {
  /** The cursor's name (config `name`, else type and destination). */
  name: string;
  /** `cluster`: the cluster's audit stream on NATS JetStream (added by the node in cluster mode, not configured). */
  type: "file" | "syslog" | "http" | "cluster";
  /** The last sequence the sink acknowledged. */
  cursor: number;
  /** Records appended and not yet shipped to it. */
  backlog: number;
  /** Whether its last attempt succeeded. */
  up: boolean;
  /** Records shipped since start. */
  shipped: number;
  /** Failed attempts since start (down, refused, timed out, disk full). */
  failures: number;
  lastError: string | undefined;
}

/** The ledger's state, for the metrics. */
export interface AuditStatus {
  /** The head sequence: records in the ledger. */
  records: number;
  /** Appends that failed since start (each failed its request with storage_error, or was logged for events). */
  appendFailures: number;
  sinks: AuditSinkStatus[];
}
