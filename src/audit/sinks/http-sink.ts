// Ships audit records as batched JSON POSTs ({"records": [...]}) with the configured headers; a 2xx answer confirms the batch.
import fs from "node:fs";
import http from "node:http";
import https from "node:https";
import path from "node:path";
import { ConfigError } from "../../config/load.js";
import type { AuditSinkConfig } from "../../config/schema.js";
import type { AuditCheckpoint, StoredAuditRecord } from "../audit-record.js";
import type { AuditSink, AuditSinkContext } from "./audit-sink.js";
import { shippedCheckpoint, shippedRecord } from "./record-json.js";

export type HttpSinkConfig = Extract<AuditSinkConfig, { type: "http" }>;

/** A refused POST: the receiver's status and the start of its answer. */
export class HttpSinkRefusal extends Error {
  constructor(
    readonly status: number,
    body: string,
    destination: string,
  ) {
    super(
      status >= 400 && status < 500 && status !== 408 && status !== 429
        ? `${destination} refused the batch with ${status} (it will keep refusing until the receiver or the sink's config changes; the records stay queued): ${body}`
        : `${destination} answered ${status}: ${body}`,
    );
    this.name = "HttpSinkRefusal";
  }
}

export class HttpSink implements AuditSink {
  readonly type = "http";
  readonly destination: string;
  readonly batchSize: number;
  private readonly url: URL;
  private readonly ca: Buffer | undefined;
  private confirmedSequence = 0;

  constructor(
    private readonly config: HttpSinkConfig,
    private readonly context: AuditSinkContext,
  ) {
    this.url = new URL(config.url);
    const shown = new URL(config.url);
    shown.username = "";
    shown.password = "";
    this.destination = shown.toString();
    this.batchSize = config.batch_size;
    this.ca = config.ca ? readCa(path.resolve(context.baseDir, config.ca)) : undefined;
  }

  async send(records: StoredAuditRecord[]): Promise<void> {
    const last = records.at(-1);
    if (!last) return;
    await this.post({ records: records.map((record) => shippedRecord(record, this.context.nodeId)) });
    this.confirmedSequence = last.sequence;
  }

  async sendCheckpoint(checkpoint: AuditCheckpoint): Promise<void> {
    await this.post({ records: [], checkpoint: shippedCheckpoint(checkpoint) });
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

  private post(payload: unknown): Promise<void> {
    const body = Buffer.from(JSON.stringify(payload), "utf8");
    const client = this.url.protocol === "https:" ? https : http;
    const timeoutMs = this.config.timeout * 1000;
    return new Promise<void>((resolve, reject) => {
      const request = client.request(this.url, {
        method: "POST",
        headers: { "content-type": "application/json", ...this.config.headers, "content-length": String(body.length) },
        ...(this.ca ? { ca: this.ca } : {}),
        signal: AbortSignal.timeout(timeoutMs),
      });
      request.once("error", (error) =>
        reject(error.name === "AbortError" ? new Error(`${this.destination} did not answer within ${this.config.timeout} s`) : error),
      );
      request.once("response", (response) => {
        let text = "";
        response.setEncoding("utf8");
        response.on("data", (chunk: string) => {
          if (text.length < 300) text += chunk;
        });
        response.once("error", reject);
        response.once("end", () => {
          const status = response.statusCode ?? 0;
          if (status >= 200 && status < 300) resolve();
          else reject(new HttpSinkRefusal(status, text.slice(0, 300), this.destination));
        });
      });
      request.end(body);
    });
  }
}

function readCa(file: string): Buffer {
  try {
    return fs.readFileSync(file);
  } catch (error) {
    throw new ConfigError(`audit.sinks: http ca ${file}: cannot read (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`);
  }
}
