// Ships the ledger to one sink: reads after the sink's cursor in order, sends, and moves the durable cursor as far as the sink confirms.
import type { Logger } from "../logging/logger.js";
import type { AuditCheckpoint, AuditSinkStatus, AuditSource } from "./audit-record.js";
import type { AuditSink } from "./sinks/audit-sink.js";
import { HttpSinkRefusal } from "./sinks/http-sink.js";
import type { SinkCursors } from "./sinks/sink-cursors.js";

export interface RetryPolicy {
  /** The pause after the first failure; each further failure doubles it, up to maxMs (±25 % jitter). */
  initialMs: number;
  maxMs: number;
}

export const defaultRetryPolicy: RetryPolicy = { initialMs: 250, maxMs: 15_000 };

export interface AuditShipperOptions {
  /** The cursor's name. */
  name: string;
  sink: AuditSink;
  source: AuditSource;
  cursors: SinkCursors;
  logger: Logger;
  retry?: RetryPolicy;
  /** How long close() lets the last records go out. */
  closeWaitMs?: number;
}

/** Repeated failures of a sink are logged at most once per this. */
const failureLogIntervalMs = 60_000;

export class AuditShipper {
  readonly name: string;
  private readonly sink: AuditSink;
  private readonly source: AuditSource;
  private readonly cursors: SinkCursors;
  private readonly logger: Logger;
  private readonly retry: RetryPolicy;
  private readonly closeWaitMs: number;
  /** The last sequence the sink confirmed (persisted in audit_sink_cursors). */
  private cursor: number;
  /** The last sequence sent; records between cursor and sent await the sink's confirmation. */
  private sent: number;
  private up = true;
  private shipped = 0;
  private failures = 0;
  private lastError: string | undefined;
  /** Failures since the last success: sets the pause before the next try. */
  private consecutiveFailures = 0;
  private lastFailureLog = 0;
  private unloggedFailures = 0;
  private pendingCheckpoint: AuditCheckpoint | undefined;
  private running: Promise<void> | undefined;
  private again = false;
  private scheduled: NodeJS.Immediate | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private confirmTimer: NodeJS.Timeout | undefined;
  /** No more retries or wake-ups; close() is letting the last records out. */
  private stopping = false;
  private closed = false;
  private readonly unsubscribe: () => void;

  constructor(options: AuditShipperOptions) {
    this.name = options.name;
    this.sink = options.sink;
    this.source = options.source;
    this.cursors = options.cursors;
    this.logger = options.logger;
    this.retry = options.retry ?? defaultRetryPolicy;
    this.closeWaitMs = options.closeWaitMs ?? 3_000;
    this.cursor = this.cursors.read(this.name);
    const head = this.source.head().sequence;
    if (this.cursor > head) {
      // The cursor points past the ledger's end: this is another chain (a replaced database). Everything in it ships.
      this.logger.warn({ sink: this.name, cursor: this.cursor, head }, "audit sink cursor is past the ledger's head; shipping this ledger from its first record");
      this.cursor = 0;
      this.cursors.reset(this.name, 0);
    }
    this.sent = this.cursor;
    // Called after appends, possibly inside the database transaction: the work runs later, once it has committed.
    this.unsubscribe = this.source.subscribe(() => this.wake());
    this.wake();
  }

  status(): AuditSinkStatus {
    let backlog = 0;
    try {
      backlog = Math.max(0, this.source.head().sequence - this.cursor);
    } catch {
      // The ledger cannot be read now; the backlog shows as 0 until it can.
    }
    return { name: this.name, type: this.sink.type, cursor: this.cursor, backlog, up: this.up, shipped: this.shipped, failures: this.failures, lastError: this.lastError };
  }

  /** Sends the checkpoint once the records up to it have gone out (a newer one replaces one not yet sent). */
  checkpoint(checkpoint: AuditCheckpoint): void {
    if (this.stopping) return;
    this.pendingCheckpoint = checkpoint;
    this.wake();
  }

  /** Lets the last records out (up to closeWaitMs while the sink is up), closes the sink, keeps the cursor. */
  async close(): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    this.unsubscribe();
    clearImmediate(this.scheduled);
    clearTimeout(this.retryTimer);
    clearTimeout(this.confirmTimer);
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<void>((resolve) => (timer = setTimeout(resolve, this.closeWaitMs)));
    const lastRound = (async () => {
      await this.running;
      if (this.up && this.consecutiveFailures === 0) await this.run();
    })();
    await Promise.race([lastRound, deadline]);
    clearTimeout(timer);
    this.closed = true;
    await this.sink.close().catch((error: unknown) => this.logger.warn({ err: error, sink: this.name }, "audit sink did not close cleanly"));
    this.confirm();
  }

  /** Looks for new records soon (after the current transaction, if any, has committed). */
  wake(): void {
    if (this.stopping || this.scheduled) return;
    this.scheduled = setImmediate(() => {
      this.scheduled = undefined;
      void this.run();
    });
  }

  private run(): Promise<void> {
    if (this.running) {
      this.again = true;
      return this.running;
    }
    this.running = (async () => {
      try {
        do {
          this.again = false;
          await this.step();
        } while (this.again && !this.closed && this.retryTimer === undefined);
      } finally {
        this.running = undefined;
      }
    })();
    return this.running;
  }

  /** Sends everything after `sent`, then a waiting checkpoint, and moves the cursor as far as the sink confirms. */
  private async step(): Promise<void> {
    if (this.retryTimer !== undefined || this.closed) return;
    if (this.rewindOnLoss()) return;
    try {
      for (;;) {
        if (this.closed) return;
        const batch = this.source.after(this.sent, this.sink.batchSize);
        const last = batch.at(-1);
        if (!last) break;
        await this.sink.send(batch);
        this.sent = last.sequence;
        this.succeeded();
        this.confirm();
      }
      const checkpoint = this.pendingCheckpoint;
      if (checkpoint && this.sent >= checkpoint.sequence) {
        this.pendingCheckpoint = undefined;
        await this.sink.sendCheckpoint(checkpoint);
        this.succeeded();
      }
    } catch (error) {
      this.failed(error);
      return;
    } finally {
      this.confirm();
    }
    if (this.rewindOnLoss()) return;
    const pendingMs = this.sink.pendingConfirmationMs();
    if (pendingMs !== undefined && !this.stopping) {
      clearTimeout(this.confirmTimer);
      this.confirmTimer = setTimeout(() => {
        this.confirmTimer = undefined;
        this.wake();
      }, pendingMs + 10);
      this.confirmTimer.unref();
    }
  }

  /** Persists how far the sink confirmed. */
  private confirm(): void {
    const confirmed = this.sink.confirmed();
    if (confirmed <= this.cursor) return;
    this.shipped += confirmed - this.cursor;
    this.cursor = confirmed;
    try {
      this.cursors.advance(this.name, confirmed);
    } catch (error) {
      // The cursor stays here in memory; after a restart the records since the stored one are sent again.
      this.logFailure(error, "audit sink cursor could not be stored; records since the stored cursor will be sent again after a restart");
    }
  }

  /** The sink lost records it had sent unconfirmed (a dropped connection): send them again from the cursor. */
  private rewindOnLoss(): boolean {
    const loss = this.sink.takeLoss();
    if (!loss) return false;
    this.failed(loss);
    return true;
  }

  private succeeded(): void {
    if (this.consecutiveFailures > 0) {
      this.logger.info(
        { sink: this.name, failures: this.consecutiveFailures, cursor: this.cursor, backlog: this.status().backlog },
        "audit sink is back; shipping its backlog",
      );
    }
    this.up = true;
    this.consecutiveFailures = 0;
  }

  private failed(error: unknown): void {
    this.confirm();
    // Whatever was sent and not confirmed goes again, in order, from the cursor.
    this.sent = this.cursor;
    this.up = false;
    this.failures++;
    this.consecutiveFailures++;
    this.lastError = error instanceof Error ? error.message : String(error);
    if (this.stopping) return;
    this.logFailure(error, "audit sink failed; its records stay in the ledger and are retried");
    clearTimeout(this.retryTimer);
    const pause = Math.min(this.retry.maxMs, this.retry.initialMs * 2 ** (this.consecutiveFailures - 1)) * (0.75 + Math.random() * 0.5);
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      this.wake();
    }, pause);
    this.retryTimer.unref();
  }

  /** Logs the first failure in a row and then at most once a minute, with the count of those not logged. */
  private logFailure(error: unknown, message: string): void {
    const now = Date.now();
    if (this.consecutiveFailures > 1 && now - this.lastFailureLog < failureLogIntervalMs) {
      this.unloggedFailures++;
      return;
    }
    const permanent = error instanceof HttpSinkRefusal && error.status >= 400 && error.status < 500 && error.status !== 408 && error.status !== 429;
    const fields = { err: error, sink: this.name, cursor: this.cursor, failures: this.failures, notLogged: this.unloggedFailures };
    if (permanent) this.logger.error(fields, message);
    else this.logger.warn(fields, message);
    this.lastFailureLog = now;
    this.unloggedFailures = 0;
  }
}
