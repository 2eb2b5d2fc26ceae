// Turns one MQTT request message into a pipeline run: reply topic, frame, token, ledger record, streamed reply.
import type { IPublishPacket } from "mqtt";
import { ClawError, toClawError, type ErrorCode } from "../../core/errors.js";
import type { Principal, StreamPart } from "../../core/types.js";
import type { RequestLedger, StoredLedgerEntry } from "../../store/request-ledger.js";
import { errorFrame, parseTransportFrame, serverFrame, toGenerationParams, type ChatFrame } from "../frames.js";
import type { GatewayContext } from "../gateway.js";
import type { MqttTopics } from "./mqtt-topics.js";

/** Where the replies to one request go: the client's response topic, or the MQTT 5 response topic it asked for. */
export interface ReplyTarget {
  topic: string;
  correlationData?: Buffer;
}

export interface MqttRequestHandlerOptions {
  context: GatewayContext;
  topics: MqttTopics;
  maxPayload: number;
  /** The gateway's MQTT client id: its records in the ledger are its own. */
  gatewayId: string;
  /** Where accepted requests are recorded before they are acknowledged, and marked answered once replied to. */
  ledger: RequestLedger;
  /** Publishes one reply frame; resolves true once the broker has it (false when it could not be published). */
  publish(target: ReplyTarget, frame: Record<string, unknown>): Promise<boolean>;
}

/** Outcomes after which a request may be sent again with the same id and run (the node was busy or not ready). */
const retryableCodes: ReadonlySet<ErrorCode> = new Set(["overloaded", "unavailable"]);

interface RunningRequest {
  controller: AbortController;
  subject: string;
}

/** One request to run: which client sent it, its frame, and where its replies go. */
interface RequestToRun {
  client: string;
  frame: ChatFrame;
  stream: boolean;
  target: ReplyTarget;
}

export class MqttRequestHandler {
  /** Requests running in this process (from acceptance until their ledger record says answered). */
  private readonly running = new Map<string, RunningRequest>();

  constructor(private readonly options: MqttRequestHandlerOptions) {}

  /**
   * Takes one request: resolves once it is recorded in the ledger (or answered with an error, or dropped),
   * before the answer is generated; the answer then streams on. Never throws.
   */
  async accept(packet: IPublishPacket): Promise<void> {
    try {
      await this.acceptPacket(packet);
    } catch (error) {
      this.options.context.logger.error({ err: error, topic: packet.topic }, "mqtt request handling failed");
    }
  }

  /** Cancels every running request (the gateway is stopping). */
  cancelAll(): void {
    for (const request of this.running.values()) request.controller.abort();
  }

  /**
   * Runs again every request of this gateway that the ledger holds as accepted but not answered: the
   * process stopped (or was killed) mid-answer. The answer is generated from the start. Returns how many.
   */
  resumeInterrupted(): number {
    const { ledger, gatewayId } = this.options;
    let resumed = 0;
    for (const entry of ledger.unanswered(gatewayId)) {
      if (this.running.has(keyOf(entry.client, entry.requestId))) continue;
      resumed += 1;
      void this.resume(entry).catch((error: unknown) => {
        this.options.context.logger.error({ err: error, client: entry.client, id: entry.requestId }, "mqtt request could not be resumed");
      });
    }
    return resumed;
  }

  /** Forgets answered requests older than `maxAgeMs`: a redelivery after that long is no longer recognised. */
  prune(maxAgeMs: number): number {
    return this.options.ledger.prune(this.options.gatewayId, maxAgeMs);
  }

  private async acceptPacket(packet: IPublishPacket): Promise<void> {
    const { logger, authenticator } = this.options.context;
    const clientId = this.options.topics.clientIdOf(packet.topic);
    const target = this.replyTarget(packet, clientId);
    if (!target) {
      logger.warn({ topic: packet.topic }, "mqtt request dropped: its topic names no client and it has no response topic");
      return;
    }
    const reply = (frame: Record<string, unknown>) => void this.options.publish(target, frame);
    const payload = typeof packet.payload === "string" ? Buffer.from(packet.payload) : packet.payload;
    if (payload.length > this.options.maxPayload) {
      reply(errorFrame(null, new ClawError("payload_too_large", `The message is ${payload.length} bytes; the limit is ${this.options.maxPayload}.`)));
      return;
    }
    const text = payload.toString("utf8");
    const parsed = parseTransportFrame(text);
    if ("error" in parsed) {
      logger.debug({ topic: packet.topic, reason: parsed.error.message }, "mqtt bad frame");
      reply(errorFrame(parsed.id, parsed.error));
      return;
    }
    const { frame, token, stream } = parsed;
    if (frame.type === "ping") return reply({ type: "pong" });
    let principal: Principal;
    try {
      principal = await authenticator.authenticate(token);
    } catch (error) {
      const clawError = toClawError(error);
      logger.info({ topic: packet.topic, id: frame.id, reason: clawError.message }, "mqtt request refused");
      reply(errorFrame(frame.id, clawError));
      return;
    }
    const client = clientId ?? "";
    const key = keyOf(client, frame.id);
    if (frame.type === "cancel") {
      const request = this.running.get(key);
      if (request && request.subject === principal.subject) request.controller.abort();
      return;
    }
    if (this.running.has(key)) {
      logger.info({ client: clientId, id: frame.id, redelivered: packet.dup }, "mqtt duplicate request ignored: running now");
      return;
    }
    // Recorded before the acknowledgement goes out: from here on a crash cannot lose the request.
    const { ledger, gatewayId } = this.options;
    const entry = { gateway: gatewayId, client, requestId: frame.id, payload: text, replyTopic: target.topic, correlationData: target.correlationData };
    if (!ledger.accept(entry)) {
      if (ledger.state(gatewayId, client, frame.id) === "answered") {
        logger.info({ client: clientId, id: frame.id, redelivered: packet.dup }, "mqtt duplicate request ignored: already answered");
        return;
      }
      logger.info({ client: clientId, id: frame.id }, "mqtt request interrupted by an earlier stop: running it again");
    }
    this.run({ client, frame, stream, target }, principal, new AbortController());
  }

  /** Runs a stored request again: its token is checked again (it may have expired since). */
  private async resume(entry: StoredLedgerEntry): Promise<void> {
    const { logger, authenticator } = this.options.context;
    const key = keyOf(entry.client, entry.requestId);
    const target: ReplyTarget = { topic: entry.replyTopic, ...(entry.correlationData ? { correlationData: entry.correlationData } : {}) };
    // Held as running while the token is checked, so a redelivery arriving meanwhile is not run twice.
    const controller = new AbortController();
    this.running.set(key, { controller, subject: "" });
    const parsed = parseTransportFrame(entry.payload);
    let principal: Principal;
    try {
      if ("error" in parsed) throw parsed.error;
      if (parsed.frame.type !== "chat") throw new ClawError("bad_request", "Only chat requests are stored.");
      principal = await authenticator.authenticate(parsed.token);
    } catch (error) {
      const clawError = toClawError(error);
      logger.warn({ client: entry.client, id: entry.requestId, reason: clawError.message }, "mqtt interrupted request refused on resume");
      await this.finish(key, entry.client, entry.requestId, this.options.publish(target, errorFrame(entry.requestId, clawError)), false);
      return;
    }
    logger.info({ client: entry.client, id: entry.requestId }, "mqtt resuming an interrupted request");
    this.run({ client: entry.client, frame: parsed.frame, stream: parsed.stream, target }, principal, controller);
  }

  private replyTarget(packet: IPublishPacket, clientId: string | undefined): ReplyTarget | undefined {
    const properties = packet.properties;
    const responseTopic = properties?.responseTopic;
    if (responseTopic && !/[+#]/.test(responseTopic)) return { topic: responseTopic, correlationData: properties?.correlationData };
    if (responseTopic) this.options.context.logger.warn({ topic: packet.topic, responseTopic }, "mqtt response topic with wildcards ignored");
    return clientId === undefined ? undefined : { topic: this.options.topics.responseTopic(clientId) };
  }

  private run(request: RequestToRun, principal: Principal, controller: AbortController): void {
    const { client, frame, stream, target } = request;
    const key = keyOf(client, frame.id);
    this.running.set(key, { controller, subject: principal.subject });
    let retryable = false;
    let terminal: Promise<boolean> = Promise.resolve(false);
    const write = (part: StreamPart) => {
      if (part.type === "error" && retryableCodes.has(part.error.code)) retryable = true;
      if (part.type === "text-delta" && !stream) return;
      const published = this.options.publish(target, serverFrame(frame.id, part));
      if (part.type === "finish" || part.type === "error") terminal = published;
    };
    const pipelineRequest = { id: frame.id, principal, session: frame.session, message: frame.message, params: toGenerationParams(frame.params), gateway: "mqtt" };
    void this.options.context.pipeline
      .handle(pipelineRequest, { write }, controller.signal)
      .catch((error: unknown) => {
        this.options.context.logger.error({ err: error, id: frame.id }, "mqtt request failed");
        terminal = this.options.publish(target, errorFrame(frame.id, toClawError(error)));
      })
      .then(() => this.finish(key, client, frame.id, terminal, retryable));
  }

  /**
   * Settles a request's ledger record once its last frame is with the broker: answered, or forgotten when it
   * was refused as busy or not ready (so the same id may be sent again). If the last frame could not be
   * published, the record stays accepted and the request runs again after the next start.
   */
  private async finish(key: string, client: string, requestId: string, terminal: Promise<boolean>, retryable: boolean): Promise<void> {
    const { ledger, gatewayId, context } = this.options;
    try {
      if (retryable) ledger.forget(gatewayId, client, requestId);
      else if (await terminal) ledger.markAnswered(gatewayId, client, requestId);
    } catch (error) {
      context.logger.warn({ err: error, client, id: requestId }, "mqtt request ledger not updated");
    } finally {
      this.running.delete(key);
    }
  }
}

function keyOf(client: string, requestId: string): string {
  return `${client}\u0000${requestId}`;
}
