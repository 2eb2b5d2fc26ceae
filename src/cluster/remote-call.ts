// One generation through the work queue, as the gateway sees it: publish, follow the worker that started it, switch
// (with one `restart` part) to the next worker when it is lost, and turn silence, deadlines and cancels into parts.
import { randomUUID } from "node:crypto";
import type { ClusterConfig } from "../config/cluster-schema.js";
import { ClawError } from "../core/errors.js";
import type { FinishPart } from "../core/types.js";
import type { EnginePart, EngineRequest } from "../engine/language-model.js";
import type { Logger } from "../logging/logger.js";
import type { ClusterNames } from "./cluster-names.js";
import type { NatsSession } from "./nats-connection.js";
import { decodeWorkReply, encodeWork, type WorkCancel, type WorkReply, type WorkRequest } from "./work-protocol.js";
import { workingIntervalMs } from "./work-server.js";

/** A targeted request no worker started within this long goes to any worker instead. */
export const targetedStartMs = 1000;
/** A worker silent this long (three missed `working` beats) is taken for lost. */
const silenceMs = 3 * workingIntervalMs;
/** After a cancel, how long the worker's own `cancelled` finish is awaited before one is made up. */
const cancelGraceMs = 2000;

export interface RemoteCallContext {
  session: NatsSession;
  names: ClusterNames;
  config: ClusterConfig;
  nodeId: string;
  logger: Logger;
  /** The worker whose sequence holds the conversation, when it is alive with a free sequence. */
  target: string | undefined;
  /** Calls `listener` when the NATS link goes down; returns the unsubscribe function. */
  onDisconnect(listener: () => void): () => void;
  /** Told when a worker starts the request (for conversation routing and the load count). */
  onStart(node: string): void;
  onRestart(): void;
  /** Told of a reply that did not decode (hostile or from another version). */
  onRefused(): void;
}

type Event = { kind: "reply"; reply: WorkReply } | { kind: "abort" } | { kind: "disconnected" };

/** A queue of events the generator awaits with a timeout (NATS callbacks push, the generator takes). */
class Mailbox {
  private readonly events: Event[] = [];
  private waiter: (() => void) | undefined;

  push(event: Event): void {
    this.events.push(event);
    this.waiter?.();
  }

  async take(timeoutMs: number): Promise<Event | undefined> {
    if (this.events.length === 0 && timeoutMs > 0) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(done, timeoutMs);
        const self = this;
        function done() {
          clearTimeout(timer);
          self.waiter = undefined;
          resolve();
        }
        this.waiter = done;
      });
    }
    return this.events.shift();
  }
}

export async function* remoteCall(context: RemoteCallContext, request: EngineRequest, signal: AbortSignal | undefined): AsyncGenerator<EnginePart> {
  const { session, names, config, logger } = context;
  const { connection, jetstream } = session;
  const startedAt = Date.now();
  const id = randomUUID().replaceAll("-", "");
  const inbox = `${names.replyPrefix}.${context.nodeId}.${id}`;
  const deadline = startedAt + config.request_timeout_s * 1000;
  const mailbox = new Mailbox();
  const subscription = connection.subscribe(inbox, {
    callback: (error, message) => {
      if (error) return;
      const decoded = decodeWorkReply(message.data);
      if (!decoded.ok || decoded.value.id !== id) {
        context.onRefused();
        logger.warn({ reason: decoded.ok ? "a reply for another request" : decoded.reason }, "ignored a malformed work reply");
        return;
      }
      mailbox.push({ kind: "reply", reply: decoded.value });
    },
  });
  const onAbort = () => mailbox.push({ kind: "abort" });
  signal?.addEventListener("abort", onAbort, { once: true });
  const offLink = context.onDisconnect(() => mailbox.push({ kind: "disconnected" }));

  let attempt = 1;
  let sequence: number | undefined;
  /** The try whose parts are yielded: its attempt, JetStream delivery and worker. */
  let current: { delivery: number; node: string } | undefined;
  let yieldedFromCurrent = false;
  let tries = 0;
  let lastHeard = startedAt;
  let lostAt: number | undefined;
  let abortedAt: number | undefined;
  let text = "";
  let tokens = 0;
  let done = false;
  let withdrawAt = context.target ? startedAt + targetedStartMs : undefined;

  const cancel = (order: WorkCancel) => {
    try {
      connection.publish(names.cancel(id), encodeWork(order));
    } catch {
      // Best effort: the deadline and max_age end a request nobody cancels.
    }
  };
  const withdraw = () => {
    if (sequence !== undefined) void session.manager.streams.deleteMessage(names.workStream, sequence, false).catch(() => undefined);
  };
  const publish = async (subject: string) => {
    const work: WorkRequest = { v: 1, id, attempt, reply: inbox, deadline, origin: context.nodeId, request };
    try {
      const ack = await jetstream.publish(subject, encodeWork(work), { msgID: `${id}-${attempt}`, timeout: 5000 });
      sequence = ack.seq;
    } catch (error) {
      throw new ClawError("unavailable", "The cluster's NATS server did not take the request; retry.", { cause: error });
    }
  };
  const cancelledFinish = (): FinishPart => {
    const totalMs = Date.now() - startedAt;
    return { type: "finish", text, finishReason: "cancelled", usage: { promptTokens: 0, completionTokens: tokens }, timings: { queueMs: 0, ttftMs: totalMs, totalMs } };
  };

  try {
    if (signal?.aborted) {
      done = true;
      yield cancelledFinish();
      return;
    }
    await publish(context.target ? names.workNode(context.target) : names.workAny);
    for (;;) {
      let wakeAt = deadline;
      if (withdrawAt !== undefined && !current) wakeAt = Math.min(wakeAt, withdrawAt);
      if (current && lostAt === undefined) wakeAt = Math.min(wakeAt, lastHeard + silenceMs);
      if (lostAt !== undefined) wakeAt = Math.min(wakeAt, lostAt + config.ack_wait_s * 1000);
      if (abortedAt !== undefined) wakeAt = Math.min(wakeAt, abortedAt + cancelGraceMs);
      const event = await mailbox.take(wakeAt - Date.now());
      const now = Date.now();
      if (!event) {
        if (abortedAt !== undefined && now >= abortedAt + cancelGraceMs) {
          done = true;
          yield cancelledFinish();
          return;
        }
        if (now >= deadline) {
          throw new ClawError(
            "unavailable",
            current ? `The request did not finish within ${config.request_timeout_s} s.` : `No worker took the request within ${config.request_timeout_s} s.`,
          );
        }
        if (withdrawAt !== undefined && !current && now >= withdrawAt) {
          // Its worker did not start it: take it back and let any worker have it (its late replies are ignored).
          withdrawAt = undefined;
          withdraw();
          cancel({ attempt });
          attempt += 1;
          await publish(names.workAny);
          continue;
        }
        if (current && lostAt === undefined && now >= lastHeard + silenceMs) {
          if (current.delivery >= config.max_deliver) {
            throw new ClawError("worker_lost", `The worker generating the answer stopped answering, on each of the ${config.max_deliver} tries; retry.`);
          }
          lostAt = now;
          continue;
        }
        // JetStream redelivers within ack_wait of the lost worker's last extension, which came before its silence: by
        // now another worker would have started it, unless none is left (or every one is busy).
        if (lostAt !== undefined && now >= lostAt + config.ack_wait_s * 1000) {
          throw new ClawError("worker_lost", "The worker generating the answer stopped answering and no other worker took the request over; retry.");
        }
        continue;
      }
      if (event.kind === "disconnected") throw new ClawError("unavailable", "The connection to the cluster's NATS server was lost; retry.");
      if (event.kind === "abort") {
        if (abortedAt !== undefined) continue;
        abortedAt = now;
        cancel({});
        if (!current) {
          done = true;
          yield cancelledFinish();
          return;
        }
        continue;
      }
      const reply = event.reply;
      if (reply.attempt !== attempt) {
        // A withdrawn attempt that a worker started late: stop it.
        if (reply.type === "start") cancel({ attempt: reply.attempt });
        continue;
      }
      if (reply.type === "start") {
        if (current && reply.delivery <= current.delivery) continue;
        tries += 1;
        if (current) cancel({ attempt, delivery: current.delivery });
        if (abortedAt !== undefined) cancel({ attempt, delivery: reply.delivery });
        if (yieldedFromCurrent) {
          // What the lost worker wrote is void; the new one's answer follows whole.
          context.onRestart();
          yield { type: "restart", reason: "worker_lost", attempt: tries };
        }
        current = { delivery: reply.delivery, node: reply.node };
        context.onStart(reply.node);
        yieldedFromCurrent = false;
        lastHeard = now;
        lostAt = undefined;
        text = "";
        tokens = 0;
        continue;
      }
      if (!current || reply.delivery !== current.delivery) continue;
      lastHeard = now;
      lostAt = undefined;
      switch (reply.type) {
        case "working":
          break;
        case "requeue":
          // Its engine was busy before writing anything: the next delivery is a fresh start.
          current = undefined;
          break;
        case "error":
          done = true;
          throw new ClawError(reply.code, reply.message, { param: reply.param, retryAfter: reply.retry_after });
        case "part": {
          const part = reply.part;
          if (part.type === "text-delta") {
            text += part.text;
            tokens += 1;
          }
          yieldedFromCurrent = true;
          if (part.type === "finish") done = true;
          yield part;
          if (done) return;
          break;
        }
      }
    }
  } finally {
    subscription.unsubscribe();
    signal?.removeEventListener("abort", onAbort);
    offLink();
    if (!done) {
      // Nobody will read the answer: stop the worker and take the request off the queue.
      cancel({});
      withdraw();
    }
  }
}
