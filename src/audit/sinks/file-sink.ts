// Ships audit records to a JSONL file, fsynced before they count as delivered, rotated at max_bytes (audit.jsonl.1 newest).
import fs from "node:fs";
import path from "node:path";
import type { AuditSinkConfig } from "../../config/schema.js";
import type { AuditCheckpoint, StoredAuditRecord } from "../audit-record.js";
import type { AuditSink, AuditSinkContext } from "./audit-sink.js";
import { shippedCheckpoint, shippedRecord } from "./record-json.js";

export type FileSinkConfig = Extract<AuditSinkConfig, { type: "file" }>;

export class FileSink implements AuditSink {
  readonly type = "file";
  readonly destination: string;
  readonly batchSize = 500;
  private file: fs.promises.FileHandle | undefined;
  /** Bytes in the open file. */
  private size = 0;
  private confirmedSequence = 0;

  constructor(
    private readonly config: FileSinkConfig,
    private readonly context: AuditSinkContext,
  ) {
    this.destination = path.resolve(context.baseDir, config.path);
  }

  async send(records: StoredAuditRecord[]): Promise<void> {
    const last = records.at(-1);
    if (!last) return;
    await this.append(records.map((record) => `${JSON.stringify(shippedRecord(record, this.context.nodeId))}\n`));
    this.confirmedSequence = last.sequence;
  }

  async sendCheckpoint(checkpoint: AuditCheckpoint): Promise<void> {
    await this.append([`${JSON.stringify(shippedCheckpoint(checkpoint))}\n`]);
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

  async close(): Promise<void> {
    const file = this.file;
    this.file = undefined;
    await file?.close().catch(() => undefined);
  }

  /** Appends whole lines, rotating before a line that would pass max_bytes, and fsyncs; on failure the file is reopened next time. */
  private async append(lines: string[]): Promise<void> {
    try {
      let pending: Buffer[] = [];
      let pendingBytes = 0;
      let file = this.file ?? (await this.open());
      for (const line of lines) {
        const bytes = Buffer.from(line, "utf8");
        if (this.size + pendingBytes > 0 && this.size + pendingBytes + bytes.length > this.config.max_bytes) {
          await this.writeAndSync(file, pending, pendingBytes);
          pending = [];
          pendingBytes = 0;
          file = await this.rotate(file);
        }
        pending.push(bytes);
        pendingBytes += bytes.length;
      }
      await this.writeAndSync(file, pending, pendingBytes);
    } catch (error) {
      await this.close();
      throw error;
    }
  }

  private async writeAndSync(file: fs.promises.FileHandle, buffers: Buffer[], length: number): Promise<void> {
    if (length === 0) return;
    const bytes = Buffer.concat(buffers, length);
    let offset = 0;
    while (offset < bytes.length) {
      const { bytesWritten } = await file.write(bytes, offset, bytes.length - offset);
      offset += bytesWritten;
      this.size += bytesWritten;
    }
    await file.sync();
  }

  /**
   * Opens the file for appending (0600, its directory created 0700). A line cut short by a crash or a full disk is
   * cut off: it was never confirmed, so it is written again whole.
   */
  private async open(): Promise<fs.promises.FileHandle> {
    await fs.promises.mkdir(path.dirname(this.destination), { recursive: true, mode: 0o700 });
    const file = await fs.promises.open(this.destination, "a+", 0o600);
    try {
      const { size } = await file.stat();
      this.size = await completeLinesLength(file, size);
      if (this.size < size) {
        await file.truncate(this.size);
        await file.sync();
        this.context.logger.warn({ file: this.destination, bytes: size - this.size }, "audit file sink: removed a partly written last line (it is written again)");
      }
    } catch (error) {
      await file.close().catch(() => undefined);
      throw error;
    }
    this.file = file;
    return file;
  }

  /** audit.jsonl.(n) → .(n+1) for the kept ones (the oldest dropped), audit.jsonl → .1, a fresh audit.jsonl. */
  private async rotate(file: fs.promises.FileHandle): Promise<fs.promises.FileHandle> {
    await file.close();
    this.file = undefined;
    const keep = this.config.max_files;
    await fs.promises.rm(`${this.destination}.${keep}`, { force: true });
    for (let index = keep - 1; index >= 1; index--) {
      await fs.promises.rename(`${this.destination}.${index}`, `${this.destination}.${index + 1}`).catch((error: NodeJS.ErrnoException) => {
        if (error.code !== "ENOENT") throw error;
      });
    }
    await fs.promises.rename(this.destination, `${this.destination}.1`);
    const opened = await this.open();
    await syncDirectory(path.dirname(this.destination));
    return opened;
  }
}

/** The length of the file up to and including its last newline. */
async function completeLinesLength(file: fs.promises.FileHandle, size: number): Promise<number> {
  const chunk = Buffer.alloc(64 * 1024);
  let end = size;
  while (end > 0) {
    const start = Math.max(0, end - chunk.length);
    const { bytesRead } = await file.read(chunk, 0, end - start, start);
    const newline = chunk.subarray(0, bytesRead).lastIndexOf(0x0a);
    if (newline >= 0) return start + newline + 1;
    end = start;
  }
  return 0;
}

/** Makes renames in a directory durable. */
async function syncDirectory(directory: string): Promise<void> {
  const handle = await fs.promises.open(directory, "r");
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
