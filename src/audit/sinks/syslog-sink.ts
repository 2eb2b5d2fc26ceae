// Ships audit records to a syslog receiver over TCP (RFC 6587 octet counting) or TLS (RFC 5425), confirming them only after the connection stayed healthy.
import fs from "node:fs";
import net from "node:net";
import path from "node:path";
import tls from "node:tls";
import { ConfigError } from "../../config/load.js";
import type { AuditSinkConfig } from "../../config/schema.js";
import type { AuditCheckpoint, StoredAuditRecord } from "../audit-record.js";
import type { AuditSink, AuditSinkContext } from "./audit-sink.js";
import { octetCounted, syslogCheckpointMessage, syslogRecordMessage, type SyslogHeader } from "./syslog-format.js";

export type SyslogSinkConfig = Extract<AuditSinkConfig, { type: "syslog" }>;

export interface SyslogTimings {
  /**
   * How long the connection must stay up after a write reached the kernel before its records count as delivered.
   * TCP acknowledges bytes to the kernel, never to the receiving program: a receiver that dies drops what it had
   * not yet read or written, and the sender learns of it only by the connection closing, so records are confirmed
   * once the connection outlived them by this long (docs/audit.md, "Delivery").
   */
  settleMs: number;
  connectTimeoutMs: number;
  /** A write the receiver does not take in this long (it stopped reading) fails the connection. */
  writeTimeoutMs: number;
  /** On close, how long to wait for the receiver to close its side after ours (which confirms everything written). */
  closeWaitMs: number;
}

export const defaultSyslogTimings: SyslogTimings = { settleMs: 2_000, connectTimeoutMs: 10_000, writeTimeoutMs: 30_000, closeWaitMs: 2_000 };

interface Written {
  /** The last sequence of the write. */
  sequence: number;
  /** When its bytes reached the kernel. */
  at: number;
}

export class SyslogSink implements AuditSink {
  readonly type = "syslog";
  readonly destination: string;
  readonly batchSize = 100;
  private readonly host: string;
  private readonly port: number;
  private readonly secure: boolean;
  private readonly tlsFiles: { ca?: Buffer; cert?: Buffer; key?: Buffer };
  private readonly header: SyslogHeader;
  private socket: net.Socket | undefined;
  /** Writes on the current connection not yet confirmed, oldest first. */
  private written: Written[] = [];
  private confirmedSequence = 0;
  private loss: Error | undefined;

  constructor(
    config: SyslogSinkConfig,
    private readonly context: AuditSinkContext,
    private readonly timings: SyslogTimings = defaultSyslogTimings,
  ) {
    const url = new URL(config.url);
    this.destination = `${url.protocol}//${url.host}`;
    this.secure = url.protocol === "tls:";
    this.host = url.hostname.replace(/^\[(.*)\]$/, "$1");
    this.port = Number(url.port);
    this.tlsFiles = {
      ...(config.ca ? { ca: readPem(config.ca, "ca", context.baseDir) } : {}),
      ...(config.cert ? { cert: readPem(config.cert, "cert", context.baseDir) } : {}),
      ...(config.key ? { key: readPem(config.key, "key", context.baseDir) } : {}),
    };
    this.header = { facility: config.facility, hostname: context.nodeId, appName: config.app_name, procId: String(process.pid) };
  }

  async send(records: StoredAuditRecord[]): Promise<void> {
    const last = records.at(-1);
    if (!last) return;
    const frames = records.map((record) => octetCounted(syslogRecordMessage(record, this.header, this.context.nodeId)));
    await this.write(Buffer.concat(frames), last.sequence);
  }

  async sendCheckpoint(checkpoint: AuditCheckpoint): Promise<void> {
    // A checkpoint confirms nothing: it rides on the connection like a record of the last sequence already written.
    await this.write(octetCounted(syslogCheckpointMessage(checkpoint, this.header)), undefined);
  }

  confirmed(): number {
    const settled = Date.now() - this.timings.settleMs;
    while (this.written.length > 0 && (this.written[0] as Written).at <= settled) {
      this.confirmedSequence = Math.max(this.confirmedSequence, (this.written.shift() as Written).sequence);
    }
    return this.confirmedSequence;
  }

  pendingConfirmationMs(): number | undefined {
    const oldest = this.written[0];
    return oldest ? Math.max(0, oldest.at + this.timings.settleMs - Date.now()) : undefined;
  }

  takeLoss(): Error | undefined {
    const loss = this.loss;
    this.loss = undefined;
    return loss;
  }

  async close(): Promise<void> {
    const socket = this.socket;
    if (!socket) return;
    // Detached first: its end and close are expected now, not losses.
    this.socket = undefined;
    // Our FIN goes after every byte written; a receiver closes its side only after reading up to it, so a clean
    // close of both sides confirms everything written. Anything else leaves those records for the next start.
    const closedCleanly = await new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => resolve(false), this.timings.closeWaitMs);
      socket.once("end", () => {
        clearTimeout(timer);
        resolve(true);
      });
      socket.once("close", () => {
        clearTimeout(timer);
        resolve(false);
      });
      socket.end();
    });
    if (closedCleanly) {
      for (const write of this.written) this.confirmedSequence = Math.max(this.confirmedSequence, write.sequence);
    }
    this.written = [];
    socket.destroy();
  }

  /** Writes on the open connection (connecting first); `sequence` is what the bytes carry, when they carry records. */
  private async write(bytes: Buffer, sequence: number | undefined): Promise<void> {
    const socket = this.socket ?? (await this.connect());
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        const error = new Error(`the syslog receiver ${this.destination} took no data for ${this.timings.writeTimeoutMs / 1000} s`);
        this.lose(socket, error);
        reject(error);
      }, this.timings.writeTimeoutMs);
      socket.write(bytes, (error) => {
        clearTimeout(timer);
        if (error) {
          this.lose(socket, error);
          reject(error);
          return;
        }
        if (this.socket !== socket) {
          reject(this.loss ?? new Error(`the connection to ${this.destination} closed`));
          return;
        }
        if (sequence !== undefined) this.written.push({ sequence, at: Date.now() });
        resolve();
      });
    });
  }

  private async connect(): Promise<net.Socket> {
    const socket = this.secure
      ? tls.connect({ host: this.host, port: this.port, ...this.tlsFiles, ...(net.isIP(this.host) ? {} : { servername: this.host }) })
      : net.connect({ host: this.host, port: this.port });
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new Error(`connecting to ${this.destination} timed out after ${this.timings.connectTimeoutMs / 1000} s`));
      }, this.timings.connectTimeoutMs);
      socket.once(this.secure ? "secureConnect" : "connect", () => {
        clearTimeout(timer);
        resolve();
      });
      socket.once("error", (error) => {
        clearTimeout(timer);
        socket.destroy();
        reject(error);
      });
    });
    socket.setNoDelay(true);
    socket.setKeepAlive(true, 10_000);
    // A syslog receiver never writes; the connection ending or failing means what it had not yet read may be gone.
    socket.on("data", () => undefined);
    socket.on("error", (error) => this.lose(socket, error));
    socket.on("end", () => this.lose(socket, new Error(`the syslog receiver ${this.destination} closed the connection`)));
    socket.on("close", () => this.lose(socket, new Error(`the connection to ${this.destination} closed`)));
    this.socket = socket;
    this.written = [];
    return socket;
  }

  /** The connection is gone: what was written on it and not confirmed is resent from the cursor on the next one. */
  private lose(socket: net.Socket, error: Error): void {
    if (this.socket !== socket) return;
    this.socket = undefined;
    socket.destroy();
    if (this.written.length > 0) {
      this.loss = error;
      this.written = [];
    }
    this.context.notify();
  }
}

function readPem(file: string, key: string, baseDir: string): Buffer {
  const resolved = path.resolve(baseDir, file);
  try {
    return fs.readFileSync(resolved);
  } catch (error) {
    throw new ConfigError(`audit.sinks: syslog ${key} ${resolved}: cannot read (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`);
  }
}
