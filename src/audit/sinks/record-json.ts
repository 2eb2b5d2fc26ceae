// The one JSON shape of an audit record outside the node (file lines, syslog MSG, http batches), and of a checkpoint.
import type { AuditCheckpoint, AuditKind, StoredAuditRecord } from "../audit-record.js";

/** A record as the sinks ship it; `sequence` and `hash` identify it (dedupe on them: delivery is at least once). */
export interface ShippedAuditRecord {
  sequence: number;
  /** ISO 8601 in UTC with milliseconds. */
  recorded_at: string;
  kind: AuditKind | "checkpoint";
  node_id: string;
  hash: string;
  body: Record<string, unknown>;
}

export function shippedRecord(record: StoredAuditRecord, nodeId: string): ShippedAuditRecord {
  return {
    sequence: record.sequence,
    recorded_at: new Date(record.recordedAt).toISOString(),
    kind: record.kind,
    node_id: nodeId,
    hash: record.hash,
    body: record.body,
  };
}

/** A checkpoint in the same shape: kind "checkpoint", the head's sequence and hash, an empty body. It is not a record. */
export function shippedCheckpoint(checkpoint: AuditCheckpoint): ShippedAuditRecord {
  return {
    sequence: checkpoint.sequence,
    recorded_at: new Date(checkpoint.at).toISOString(),
    kind: "checkpoint",
    node_id: checkpoint.nodeId,
    hash: checkpoint.hash,
    body: {},
  };
}

/**
 * JSON with every character outside printable ASCII written as a \u escape: the text is plain ASCII, so it passes
 * unchanged through receivers that escape control characters or mangle UTF-8 (syslog), and still parses to the same value.
 */
export function asciiJson(value: unknown): string {
  return JSON.stringify(value).replace(/[\u007f-\uffff]/g, (character) => `\\u${character.charCodeAt(0).toString(16).padStart(4, "0")}`);
}
