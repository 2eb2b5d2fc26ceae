// Ships the audit ledger to its sinks (file, syslog, http), each from its durable cursor, in order, at least once.
import { ConfigError } from "../config/load.js";
import type { AuditSinkConfig } from "../config/schema.js";
import type { Logger } from "../logging/logger.js";
import type { SqliteDatabase } from "../store/database.js";
import type { AuditCheckpoint, AuditSinkStatus, AuditSource } from "./audit-record.js";
import { AuditShipper } from "./audit-shipper.js";
import type { AuditSink, AuditSinkContext } from "./sinks/audit-sink.js";
import { FileSink } from "./sinks/file-sink.js";
import { HttpSink } from "./sinks/http-sink.js";
import { SinkCursors } from "./sinks/sink-cursors.js";
import { SyslogSink } from "./sinks/syslog-sink.js";

export interface AuditShipping {
  status(): AuditSinkStatus[];
  /** Sends a checkpoint to every sink once the records it pins went out; a newer one replaces one not yet sent (none is kept across restarts). */
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
  /** Sinks the node adds beyond the configured ones (the cluster's audit stream), built with the same context. */
  extraSinks?: ((context: AuditSinkContext) => AuditSink)[];
}

/** One shipper per sink, each from its durable cursor; a sink that is down never holds up the others or the answers. */
export function startAuditShipping(sinks: AuditSinkConfig[], options: AuditShippingOptions): AuditShipping {
  const cursors = new SinkCursors(options.database);
  const shippers: AuditShipper[] = [];
  const names = new Map<string, number>();
  try {
    sinks.forEach((config, index) => {
      let wake: () => void = () => undefined;
      const context: AuditSinkContext = { nodeId: options.nodeId, baseDir: options.baseDir, logger: options.logger, notify: () => wake() };
      const sink = createSink(config, context);
      const name = config.name ?? `${sink.type}:${sink.destination}`;
      const earlier = names.get(name);
      if (earlier !== undefined) {
        throw new ConfigError(`audit.sinks[${index}]: its cursor name "${name}" is also audit.sinks[${earlier}]'s; give one of them a distinct \`name\``);
      }
      names.set(name, index);
      const shipper = new AuditShipper({ name, sink, source: options.source, cursors, logger: options.logger });
      wake = () => shipper.wake();
      shippers.push(shipper);
    });
    for (const build of options.extraSinks ?? []) {
      let wake: () => void = () => undefined;
      const sink = build({ nodeId: options.nodeId, baseDir: options.baseDir, logger: options.logger, notify: () => wake() });
      const shipper = new AuditShipper({ name: `${sink.type}:${sink.destination}`, sink, source: options.source, cursors, logger: options.logger });
      wake = () => shipper.wake();
      shippers.push(shipper);
    }
  } catch (error) {
    for (const shipper of shippers) void shipper.close();
    throw error;
  }
  return {
    status: () => shippers.map((shipper) => shipper.status()),
    checkpoint: (checkpoint) => {
      for (const shipper of shippers) shipper.checkpoint(checkpoint);
    },
    close: async () => {
      await Promise.all(shippers.map((shipper) => shipper.close()));
    },
  };
}

function createSink(config: AuditSinkConfig, context: AuditSinkContext): AuditSink {
  switch (config.type) {
    case "file":
      return new FileSink(config, context);
    case "syslog":
      return new SyslogSink(config, context);
    case "http":
      return new HttpSink(config, context);
  }
}
