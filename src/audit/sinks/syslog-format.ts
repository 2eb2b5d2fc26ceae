// RFC 5424 syslog messages for audit records, framed with RFC 6587 octet counting (`LEN SP MSG`), as RFC 5425 also frames them over TLS.
import type { AuditCheckpoint, StoredAuditRecord } from "../audit-record.js";
import { asciiJson, shippedCheckpoint, shippedRecord, type ShippedAuditRecord } from "./record-json.js";

/**
 * The SD-ID of Clawbot's structured data. 32473 is the private enterprise number RFC 5612 reserves for
 * documentation; an organisation with its own PEN can read the element by this name all the same.
 */
export const structuredDataId = "clawbot@32473";

/** RFC 5424 severities used here. */
const severity = { notice: 5, info: 6 } as const;

export interface SyslogHeader {
  /** Facility number 0–23 (13: log audit). */
  facility: number;
  /** HOSTNAME: the node id. */
  hostname: string;
  appName: string;
  procId: string;
}

/** The RFC 5424 message of one record: MSGID is its kind, the structured data holds its sequence and hash, MSG its JSON. */
export function syslogRecordMessage(record: StoredAuditRecord, header: SyslogHeader, nodeId: string): string {
  return syslogMessage(shippedRecord(record, nodeId), header, record.kind === "auth_failure" ? severity.notice : severity.info);
}

/** A checkpoint as a message of MSGID "checkpoint", severity notice. */
export function syslogCheckpointMessage(checkpoint: AuditCheckpoint, header: SyslogHeader): string {
  return syslogMessage(shippedCheckpoint(checkpoint), header, severity.notice);
}

function syslogMessage(shipped: ShippedAuditRecord, header: SyslogHeader, level: number): string {
  const priority = header.facility * 8 + level;
  const data = `[${structuredDataId} seq="${shipped.sequence}" hash="${escapeParamValue(shipped.hash)}" node="${escapeParamValue(shipped.node_id)}"]`;
  return [
    `<${priority}>1`,
    shipped.recorded_at,
    headerField(header.hostname, 255),
    headerField(header.appName, 48),
    headerField(header.procId, 128),
    headerField(shipped.kind, 32),
    data,
    asciiJson(shipped),
  ].join(" ");
}

/** RFC 5424 §6.3.3: inside PARAM-VALUE, `"`, `\` and `]` are escaped with a backslash. */
export function escapeParamValue(value: string): string {
  return value.replace(/["\\\]]/g, (character) => `\\${character}`);
}

/**
 * A header field is 1*N PRINTUSASCII (33–126) or the NILVALUE "-": other characters (spaces, non-ASCII) become "_",
 * the value is cut at the field's length, and an empty one is "-".
 */
export function headerField(value: string, maxLength: number): string {
  const printable = value.replace(/[^\x21-\x7e]/g, "_").slice(0, maxLength);
  return printable.length > 0 ? printable : "-";
}

/** RFC 6587 §3.4.1 octet counting: the message's length in bytes (UTF-8), a space, the message. */
export function octetCounted(message: string): Buffer {
  const body = Buffer.from(message, "utf8");
  return Buffer.concat([Buffer.from(`${body.length} `, "ascii"), body]);
}
