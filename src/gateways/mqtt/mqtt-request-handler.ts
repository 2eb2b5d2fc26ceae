// Turns one MQTT request message into a pipeline run: reply topic, frame, token, duplicate check, streamed reply.
import type { IPublishPacket } from "mqtt";
import { ClawError, toClawError, type ErrorCode } from "../../core/errors.js";
import type { Principal, StreamPart } from "../../core/types.js";
import { errorFrame, parseTransportFrame, serverFrame, toGenerationParams, type ChatFrame } from "../frames.js";
import type { GatewayContext } from "../gateway.js";
import type { MqttTopics } from "./mqtt-topics.js";
import { RecentRequests } from "./recent-requests.js";

/** Where the replies to one request go: the client's response topic, or the MQTT 5 response topic it asked for. */
export interface ReplyTarget {
  topic: string;
  correlationData?: Buffer;
}

export interface MqttRequestHandlerOptions {
  context: GatewayContext;
  topics: MqttTopics;
  maxPayload: number;
  /** Milliseconds a taken request id is remembered, so that a redelivery is not run again. */
  rememberMs: number;
  /** Most request ids remembered. */
  rememberCount?: number;
  publish(target: ReplyTarget, frame: Record<string, unknown>): void;
}

/** Outcomes after which a request may be sent again with the same id and run (the node was busy or not ready). */
const retryableCodes: ReadonlySet<ErrorCode> = new Set(["overloaded", "unavailable"]);

interface RunningRequest {
  controller: AbortController;
  subject: string;
}

export class MqttRequestHandler {
  private readonly running = new Map<string, RunningRequest>();
  private readonly recent: RecentRequests;

  constructor(private readonly options: MqttRequestHandlerOptions) {
    this.recent = new RecentRequests({ capacity: options.rememberCount ?? 10_000, ttlMs: options.rememberMs });
  }

  /** Requests running now. */
  get active(): number {
    return this.running.size;
  }

  /**
   * Takes one request: resolves once it is accepted (or answered with an error, or dropped), before the
   * answer is generated; the answer then streams on. Never throws.
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

  private async acceptPacket(packet: IPublishPacket): Promise<void> {
    const { logger, authenticator } = this.options.context;
    const clientId = this.options.topics.clientIdOf(packet.topic);
    const target = this.replyTarget(packet, clientId);
    if (!target) {
      logger.warn({ topic: packet.topic }, "mqtt request dropped: its topic names no client and it has no response topic");
      return;
    }
    const reply = (frame: Record<string, unknown>) => this.options.publish(target, frame);
    const payload = typeof packet.payload === "string" ? Buffer.from(packet.payload) : packet.payload;
    if (payload.length > this.options.maxPayload) {
      reply(errorFrame(null, new ClawError("payload_too_large", `The message is ${payload.length} bytes; the limit is ${this.options.maxPayload}.`)));
      return;
    }
    const parsed = parseTransportFrame(payload.toString("utf8"));
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
    const key = `${clientId ?? ""}\u0000${frame.id}`;
    if (frame.type === "cancel") {
      const request = this.running.get(key);
      if (request && request.subject === principal.subject) request.controller.abort();
      return;
    }
    if (this.running.has(key) || this.recent.has(key)) {
      logger.info({ client: clientId, id: frame.id, redelivered: packet.dup }, "mqtt duplicate request ignored: already taken");
      return;
    }
    this.run(key, frame, principal, stream, reply);
  }

  private replyTarget(packet: IPublishPacket, clientId: string | undefined): ReplyTarget | undefined {
    const properties = packet.properties;
    const responseTopic = properties?.responseTopic;
    if (responseTopic && !/[+#]/.test(responseTopic)) return { topic: responseTopic, correlationData: properties?.correlationData };
    if (responseTopic) this.options.context.logger.warn({ topic: packet.topic, responseTopic }, "mqtt response topic with wildcards ignored");
    return clientId === undefined ? undefined : { topic: this.options.topics.responseTopic(clientId) };
  }

  private run(key: string, frame: ChatFrame, principal: Principal, stream: boolean, reply: (frame: Record<string, unknown>) => void): void {
    const controller = new AbortController();
    this.running.set(key, { controller, subject: principal.subject });
    let retryable = false;
    const write = (part: StreamPart) => {
      if (part.type === "error" && retryableCodes.has(part.error.code)) retryable = true;
      if (part.type === "text-delta" && !stream) return;
      reply(serverFrame(frame.id, part));
    };
    const request = { id: frame.id, principal, session: frame.session, message: frame.message, params: toGenerationParams(frame.params), gateway: "mqtt" };
    void this.options.context.pipeline
      .handle(request, { write }, controller.signal)
      .catch((error: unknown) => {
        this.options.context.logger.error({ err: error, id: frame.id }, "mqtt request failed");
        reply(errorFrame(frame.id, toClawError(error)));
      })
      .finally(() => {
        this.running.delete(key);
        if (!retryable) this.recent.add(key);
      });
  }
}
