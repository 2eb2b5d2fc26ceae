// A worker's side of the work queue: pulls only as many requests as it has free sequences, generates with the local
// engine, streams the parts back, extends its ack while it works.
import type { Consumer, JsMsg, NatsConnection, Subscription } from "nats";
import type { ClusterConfig } from "../config/cluster-schema.js";
import { ClawError, toClawError } from "../core/errors.js";
import type { LanguageModel } from "../engine/language-model.js";
import type { Logger } from "../logging/logger.js";
import type { ClusterNames } from "./cluster-names.js";
import type { NatsLink, NatsSession } from "./nats-connection.js";
import { decodeWorkCancel, decodeWorkRequest, encodeWork, type WorkReply, type WorkRequest } from "./work-protocol.js";
import { ensureWorkConsumers, ensureWorkStream } from "./work-stream.js";

export interface WorkServerOptions {
  link: NatsLink;
  names: ClusterNames;
  config: ClusterConfig;
  nodeId: string;
  /** The node's own engine (it may still be loading: nothing is pulled until it is ready). */
  engine: LanguageModel & { readonly ready?: boolean };
  logger: Logger;
  /** Told of each request this worker finished (outcome: the finish reason or the error code). */
  onServed?(outcome: string): void;
}

export interface WorkServer {
  /** Requests this worker is generating now. */
  active(): number;
  /** Messages refused as malformed (counted, logged, termed). */
  refused(): number;
  /** Stops pulling, lets requests in progress end (or cancels them after `graceMs`), and stops. */
  close(graceMs?: number): Promise<void>;
}

/** How often the worker tells the gateway it still holds the request (the gateway's watchdog counts on it). */
export const workingIntervalMs = 1000;
/** How long a pull waits for messages before it is made again with the free sequences counted anew. */
const pullExpiresMs = 2000;

/** Why a request in progress was stopped by the worker itself (not by the gateway's cancel). */
type StopReason = "link-lost" | "shutdown";

interface ActiveRequest {
  controller: AbortController;
  /** Set when the worker stops it: nothing more is published, and it is left (or given back) for another worker. */
  stopped?: StopReason;
}

export function startWorkServer(options: WorkServerOptions): WorkServer {
  const { link, names, config, nodeId, engine, logger } = options;
  const active = new Set<ActiveRequest>();
  const fetches = new Set<{ close(): Promise<void | Error> }>();
  let closing = false;
  let refused = 0;
  const waiters = new Set<() => void>();
  const wakeUp = () => {
    for (const waiter of [...waiters]) waiter();
  };
  /** Waits `ms`, or less when a sequence frees up, the link comes back or the server closes. */
  const pause = (ms: number) =>
    new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        waiters.delete(done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      waiters.add(done);
    });
  const free = () => engine.info.parallel - active.size;

  // A worker without NATS cannot answer: its requests stop and JetStream hands them to another worker after ack_wait.
  const unsubscribe = link.onChange((connected) => {
    if (connected) return wakeUp();
    for (const request of active) {
      request.stopped ??= "link-lost";
      request.controller.abort();
    }
  });

  let prepared: { session: NatsSession; consumers: { own: Consumer; any: Consumer } } | undefined;
  const prepare = async (session: NatsSession) => {
    if (prepared?.session === session) return prepared.consumers;
    await ensureWorkStream(session.manager, names, config);
    await ensureWorkConsumers(session.manager, names, config, nodeId);
    const consumers = {
      own: await session.jetstream.consumers.get(names.workStream, names.nodeConsumer(nodeId)),
      any: await session.jetstream.consumers.get(names.workStream, names.anyConsumer),
    };
    prepared = { session, consumers };
    return consumers;
  };

  const publish = (connection: NatsConnection, subject: string, reply: WorkReply) => {
    try {
      connection.publish(subject, encodeWork(reply));
    } catch (error) {
      logger.debug({ err: error }, "could not publish a work reply");
    }
  };

  /** Acks, naks and extensions go out on the connection, which may be closed by now: never let that throw. */
  const settle = (action: () => void) => {
    try {
      action();
    } catch (error) {
      logger.debug({ err: error }, "could not answer JetStream about a work message");
    }
  };

  async function serve(session: NatsSession, message: JsMsg): Promise<void> {
    const decoded = decodeWorkRequest(message.data);
    if (!decoded.ok) {
      refused += 1;
      logger.warn({ subject: message.subject, reason: decoded.reason }, "refused a malformed work request");
      settle(() => message.term(decoded.reason));
      return;
    }
    const work: WorkRequest = decoded.value;
    const delivery = message.info.deliveryCount;
    const base = { id: work.id, attempt: work.attempt, delivery };
    const { connection } = session;
    if (Date.now() > work.deadline) {
      settle(() => message.term("deadline passed"));
      publish(connection, work.reply, { ...base, type: "error", code: "unavailable", message: "The request's deadline passed before a worker took it." });
      return;
    }
    const request: ActiveRequest = { controller: new AbortController() };
    let cancel: Subscription;
    try {
      cancel = connection.subscribe(names.cancel(work.id), {
        callback: (error, cancelMessage) => {
          if (error) return;
          const order = decodeWorkCancel(cancelMessage.data);
          if (!order.ok) {
            refused += 1;
            logger.warn({ reason: order.reason }, "ignored a malformed cancel message");
            return;
          }
          const { attempt, delivery: cancelled } = order.value;
          if ((attempt === undefined || attempt === work.attempt) && (cancelled === undefined || cancelled === delivery)) request.controller.abort();
        },
      });
    } catch (error) {
      // The connection closed under us: left unacked, the request goes to another worker.
      logger.debug({ err: error }, "could not listen for a request's cancellation");
      return;
    }
    active.add(request);
    // The ack is extended well within ack_wait, and the gateway hears from us every second.
    const extend = setInterval(() => settle(() => message.working()), Math.max(200, (config.ack_wait_s * 1000) / 3));
    const beat = setInterval(() => publish(connection, work.reply, { ...base, type: "working" }), workingIntervalMs);
    let outcome: string | undefined = "stop";
    try {
      publish(connection, work.reply, { ...base, type: "start", node: nodeId, seq: message.info.streamSequence });
      for await (const part of engine.stream(work.request, { signal: request.controller.signal })) {
        if (request.stopped) break;
        if (part.type === "restart") continue;
        publish(connection, work.reply, { ...base, type: "part", part });
        if (part.type === "finish") outcome = part.finishReason;
      }
      if (request.stopped === "shutdown") settle(() => message.nak());
      else if (!request.stopped) settle(() => message.ack());
    } catch (error) {
      const failure = toClawError(error);
      outcome = failure.code;
      if (request.stopped === "shutdown") settle(() => message.nak());
      else if (request.stopped) {
        // Left unacked: redelivered to another worker.
      } else if (failure.code === "overloaded") {
        // A local request took the sequence first: give it back and let a worker with room take it.
        publish(connection, work.reply, { ...base, type: "requeue" });
        settle(() => message.nak(250));
        outcome = undefined;
      } else {
        // Deterministic failures (bad request, context too long, …) would fail again elsewhere: answer, do not retry.
        publish(connection, work.reply, failureReply(base, failure));
        settle(() => message.ack());
        if (failure.code === "internal") logger.error({ err: error, request: work.id }, "a cluster request failed");
      }
    } finally {
      clearInterval(extend);
      clearInterval(beat);
      cancel.unsubscribe();
      active.delete(request);
      wakeUp();
    }
    if (!request.stopped && outcome !== undefined) options.onServed?.(outcome);
  }

  async function pullLoop(which: "own" | "any"): Promise<void> {
    while (!closing) {
      const session = link.current();
      if (!session || engine.ready === false) {
        await pause(200);
        continue;
      }
      // The own consumer takes one at a time, so both pulls together exceed the free sequences by one at most.
      const wanted = which === "own" ? Math.min(1, free()) : free();
      if (wanted <= 0) {
        await pause(pullExpiresMs);
        continue;
      }
      try {
        const consumers = await prepare(session);
        const batch = await consumers[which].fetch({ max_messages: wanted, expires: pullExpiresMs });
        fetches.add(batch);
        try {
          for await (const message of batch) {
            if (closing) {
              settle(() => message.nak());
              continue;
            }
            void serve(session, message).catch((error: unknown) => logger.error({ err: error }, "serving a cluster request failed"));
          }
        } finally {
          fetches.delete(batch);
        }
      } catch (error) {
        if (closing) break;
        prepared = undefined;
        logger.debug({ err: error, consumer: which }, "pulling work failed; retrying");
        await new Promise((resolve) => setTimeout(resolve, 500));
      }
    }
  }

  const loops = Promise.all([pullLoop("own"), pullLoop("any")]);

  return {
    active: () => active.size,
    refused: () => refused,
    async close(graceMs = 0) {
      closing = true;
      wakeUp();
      unsubscribe();
      await Promise.all([...fetches].map((batch) => batch.close().catch(() => undefined)));
      const deadline = Date.now() + graceMs;
      while (active.size > 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
      // Past the grace, requests are given back to the queue (nak) so another worker starts them again at once.
      for (const request of active) {
        request.stopped ??= "shutdown";
        request.controller.abort();
      }
      // An engine that ignores its abort must not hold the node's shutdown forever.
      const stopBy = Date.now() + 5000;
      while (active.size > 0 && Date.now() < stopBy) await new Promise((resolve) => setTimeout(resolve, 20));
      await loops;
    },
  };
}

function failureReply(base: { id: string; attempt: number; delivery: number }, failure: ClawError): WorkReply {
  return {
    ...base,
    type: "error",
    code: failure.code,
    message: failure.message,
    ...(failure.param !== undefined ? { param: failure.param } : {}),
    ...(failure.retryAfter !== undefined ? { retry_after: failure.retryAfter } : {}),
  };
}
