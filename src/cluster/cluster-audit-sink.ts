// Ships this node's audit records to the cluster's audit stream (JetStream, replicated): the whole cluster's trail in one
// place that survives the loss of a box, each node's SM3 chain intact (its records on `<audit subject>.<node>`).
import { RetentionPolicy, StorageType, type JetStreamManager } from "nats";
import type { AuditCheckpoint, StoredAuditRecord } from "../audit/audit-record.js";
import type { AuditSink, AuditSinkContext } from "../audit/sinks/audit-sink.js";
import { shippedCheckpoint, shippedRecord } from "../audit/sinks/record-json.js";
import type { ClusterNames } from "./cluster-names.js";
import type { NatsLink } from "./nats-connection.js";

export interface ClusterAuditSinkOptions {
  link: NatsLink;
  names: ClusterNames;
  nodeId: string;
  replicas: number;
}

/** Milliseconds a publish may wait for JetStream's acknowledgement before the batch counts as failed (and is resent). */
const publishTimeoutMs = 5000;
/** Nanoseconds within which JetStream drops a resent record (same message id): the shipper resends at least once. */
const duplicateWindowNanos = 2 * 60 * 1_000_000_000;

export class ClusterAuditSink implements AuditSink {
  readonly type = "cluster";
  readonly destination: string;
  readonly batchSize = 100;
  private confirmedSequence = 0;
  private streamReady: Promise<void> | undefined;
  private readonly subject: string;

  constructor(
    private readonly options: ClusterAuditSinkOptions,
    private readonly context: AuditSinkContext,
  ) {
    this.destination = options.names.auditStream;
    this.subject = `${options.names.auditSubject}.${options.nodeId}`;
  }

  /** Each record is acknowledged by JetStream (stored on `replicas` servers) before the batch is confirmed. */
  async send(records: StoredAuditRecord[]): Promise<void> {
    const session = await this.session();
    const acks = records.map((record) =>
      session.jetstream.publish(this.subject, JSON.stringify(shippedRecord(record, this.context.nodeId)), {
        // Sequence and hash: a resend after a lost acknowledgement is dropped by JetStream, not stored twice.
        msgID: `${this.options.nodeId}:${record.sequence}:${record.hash.slice(0, 16)}`,
        timeout: publishTimeoutMs,
      }),
    );
    await Promise.all(acks);
    const last = records.at(-1);
    if (last) this.confirmedSequence = last.sequence;
  }

  async sendCheckpoint(checkpoint: AuditCheckpoint): Promise<void> {
    const session = await this.session();
    await session.jetstream.publish(this.subject, JSON.stringify(shippedCheckpoint(checkpoint)), { timeout: publishTimeoutMs });
  }

  confirmed(): number {
    return this.confirmedSequence;
  }

  pendingConfirmationMs(): number | undefined {
    return undefined;
  }

  takeLoss(): Error | undefined {
    return undefined;
  }

  async close(): Promise<void> {}

  /** The link when it is up, with the stream made; rejects at once when NATS cannot be reached (the shipper retries). */
  private async session() {
    const session = this.options.link.current();
    if (!session) throw new Error("the cluster's NATS server cannot be reached");
    this.streamReady ??= ensureAuditStream(session.manager, this.options).catch((error: unknown) => {
      this.streamReady = undefined;
      throw error;
    });
    await this.streamReady;
    return session;
  }
}

/** Creates the audit stream, or leaves the one another node made: every record kept (limits retention, no age limit). */
async function ensureAuditStream(manager: JetStreamManager, options: ClusterAuditSinkOptions): Promise<void> {
  const { names } = options;
  try {
    await manager.streams.info(names.auditStream);
  } catch {
    await manager.streams.add({
      name: names.auditStream,
      subjects: [`${names.auditSubject}.>`],
      retention: RetentionPolicy.Limits,
      storage: StorageType.File,
      num_replicas: options.replicas,
      duplicate_window: duplicateWindowNanos,
    });
  }
}
