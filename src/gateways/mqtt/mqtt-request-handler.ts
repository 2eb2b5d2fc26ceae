// Turns one MQTT request message into a run of the shared FrameSession: topics bound to the subject, token, ledger record, reply.
import type { IPublishPacket } from "mqtt";
import { ClawError, toClawError, type ErrorCode } from "../../core/errors.js";
import type { FinishPart, Principal } from "../../core/types.js";
import type { RequestLedger, StoredLedgerEntry } from "../../store/request-ledger.js";
import { FrameSession, type FrameSink, type ServerFrame } from "../frame-session.js";
import { errorFrame, parseTransportFrame, serverFrame, type ChatFrame } from "../frames.js";
import type { GatewayContext } from "../gateway.js";
import { ignoredGatewayEvents, type GatewayEvents } from "../gateway-events.js";
import type { MqttTopics } from "./mqtt-topics.js";
import { jsonFrameCodec } from "../frame-codec.js";
import type { Sm2KeyPair } from "../../security/gm/gm-crypto.js";
import { openSealedRequest, SealedReplies, storedRequest, storedRequestText, type ReplySecret } from "../sm-mqtt-envelope.js";

/** Where the replies to one request go: the owner's reply topic, or the MQTT 5 response topic it asked for below it. */
export interface ReplyTarget {
  topic: string;
  correlationData?: Buffer;
  /** With `encryption: {type: sm}`: seals every reply to this request (plain JSON without it). */
  sealed?: SealedReplies;
}

/** The replies waiting for the broker, shared by every request of the gateway. */
export interface ReplyBuffer {
  /** Whether the bytes published and not yet taken by the broker are above `max_buffered`. */
  full(): boolean;
  /** Resolves once they are back under it; rejects with slow_client past `slow_client_timeout`. */
  drained(signal: AbortSignal): Promise<void>;
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
  publish(target: ReplyTarget, frame: ServerFrame): Promise<boolean>;
  buffer: ReplyBuffer;
  /** The static SM2 key of `encryption: {type: sm}`: every request must then be a sealed envelope (sm-mqtt-envelope.ts). */
  staticKeys?: Sm2KeyPair;
}


/** Outcomes after which a request may be sent again with the same id and run (the node was busy or not ready). */
const retryableCodes: ReadonlySet<string> = new Set<ErrorCode>(["overloaded", "unavailable"]);

/** One request to run: whose it is, its frame, and where its replies go. */
interface RequestToRun {
  owner: string;
  frame: ChatFrame;
  stream: boolean;
  target: ReplyTarget;
}

export class MqttRequestHandler {
  private readonly session: FrameSession;
  /** Requests of this process from acceptance until their ledger record is settled: a duplicate meanwhile is ignored. */
  private readonly active = new Set<string>();
  /** Requests refused because they named a reply topic that is not their subject's, or a topic with no client. */
  forbidden = 0;
  /** Request messages taken (refused and duplicate ones included). */
  messagesIn = 0;
  /** Request messages dropped as duplicates: their id is running, or answered already. */
  duplicatesDropped = 0;
  private readonly events: GatewayEvents;

  constructor(private readonly options: MqttRequestHandlerOptions) {
    this.events = options.context.events ?? ignoredGatewayEvents;
    this.session = new FrameSession({ pipeline: options.context.pipeline, gateway: "mqtt", logger: options.context.logger, sessions: options.context.sessions });
  }

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
    this.session.cancelAll();
  }

  /**
   * Takes up every request of this gateway that the ledger holds as unanswered: the process stopped (or was
   * killed) mid-answer. An accepted one runs again from the start as its stored principal (refused when its token
   * has expired meanwhile); a recorded one (its exchange already stored) gets its stored finish again. Returns how many.
   */
  resumeInterrupted(): number {
    const { ledger, gatewayId } = this.options;
    let resumed = 0;
    for (const entry of ledger.unanswered(gatewayId)) {
      if (this.active.has(keyOf(entry.owner, entry.requestId))) continue;
      resumed += 1;
      this.resume(entry);
    }
    return resumed;
  }

  /** Forgets answered requests older than `maxAgeMs`: a redelivery after that long is no longer recognised. */
  prune(maxAgeMs: number): number {
    return this.options.ledger.prune(this.options.gatewayId, maxAgeMs);
  }

  private async acceptPacket(packet: IPublishPacket): Promise<void> {
    const { context, topics, ledger, gatewayId } = this.options;
    const { logger, authenticator } = context;
    this.messagesIn += 1;
    this.events.frameReceived();
    const client = topics.clientOf(packet.topic);
    if (client === undefined) {
      this.refuseForbidden();
      logger.warn({ topic: packet.topic }, "mqtt request refused (forbidden): its topic names no client");
      return;
    }
    const responseTopic = packet.properties?.responseTopic;
    const correlationData = packet.properties?.correlationData;
    // Until the token is verified, replies go only where the client segment's own user reads (the broker's ACL
    // lets only that user publish on its request topic).
    let early = this.target(client, responseTopic, correlationData) ?? ownTarget(topics.responseTopic(client) as string, correlationData);
    const reply = (frame: ServerFrame) => void this.options.publish(early, frame);
    const payload = typeof packet.payload === "string" ? Buffer.from(packet.payload) : packet.payload;
    if (payload.length > this.options.maxPayload) {
      this.events.frameRefused("payload_too_large");
      reply(errorFrame(null, new ClawError("payload_too_large", `The message is ${payload.length} bytes; the limit is ${this.options.maxPayload}.`)));
      return;
    }
    // An encrypted gateway opens the envelope first: what cannot be opened is answered in plain JSON (it has no key to seal with).
    let replySecret: ReplySecret | undefined;
    let decoded: ReturnType<typeof jsonFrameCodec.decode>;
    if (this.options.staticKeys) {
      try {
        const opened = openSealedRequest(payload, this.options.staticKeys);
        replySecret = opened.reply;
        decoded = { text: opened.text };
        early = { ...early, sealed: new SealedReplies(replySecret) };
      } catch (error) {
        const clawError = toClawError(error);
        logger.info({ topic: packet.topic, reason: clawError.message }, "mqtt sealed request refused");
        this.events.frameRefused(clawError.code);
        reply(errorFrame(null, clawError));
        return;
      }
    } else decoded = jsonFrameCodec.decode(payload);
    const parsed = "text" in decoded ? parseTransportFrame(decoded.text) : { error: "error" in decoded ? decoded.error : new ClawError("bad_request", "Unexpected frame."), id: null };
    if ("error" in parsed) {
      logger.debug({ topic: packet.topic, reason: parsed.error.message }, "mqtt bad frame");
      this.events.frameRefused(parsed.error.code);
      reply(errorFrame(parsed.id, parsed.error));
      return;
    }
    const { frame, token, stream } = parsed;
    if (frame.type === "ping") return void this.session.receive(frame, undefined, { sink: this.sink(early) });
    let principal: Principal;
    try {
      principal = await authenticator.authenticate(token);
    } catch (error) {
      const clawError = toClawError(error);
      logger.info({ topic: packet.topic, id: frame.id, reason: clawError.message }, "mqtt request refused");
      reply(errorFrame(frame.id, clawError));
      return;
    }
    // Whose request it is: the verified subject; without auth, the client segment (only the broker's ACL tells users apart).
    const owner = authenticator.required ? principal.subject : client;
    const own = topics.responseTopic(owner);
    if (own === undefined) {
      this.refuseForbidden();
      logger.warn({ topic: packet.topic, id: frame.id, subject: owner }, "mqtt request refused (forbidden): the subject cannot name a reply topic (empty, or containing / + # or NUL)");
      return;
    }
    const allowed = this.target(owner, responseTopic, correlationData);
    const target = allowed && early.sealed ? { ...allowed, sealed: early.sealed } : allowed;
    if (!target) {
      this.refuseForbidden();
      logger.warn({ topic: packet.topic, id: frame.id, subject: owner, responseTopic }, "mqtt request refused (forbidden): response topic outside the subject's reply topic");
      void this.options.publish({ ...ownTarget(own, correlationData), ...(early.sealed ? { sealed: early.sealed } : {}) }, errorFrame(frame.id, new ClawError("forbidden", `Replies to ${owner} go to ${own} or below it, not to ${responseTopic}.`)));
      return;
    }
    if (frame.type === "cancel") return void this.session.receive(frame, principal, { owner, sink: this.sink(target) });
    // Reads are answered at once and change nothing: no ledger record (a reply lost with the node is simply asked for again).
    if (frame.type === "sessions" || frame.type === "history") return void this.session.receive(frame, principal, { owner, sink: this.sink(target) });
    const key = keyOf(owner, frame.id);
    if (this.active.has(key)) {
      this.duplicatesDropped += 1;
      logger.info({ owner, id: frame.id, redelivered: packet.dup }, "mqtt duplicate request ignored: running now");
      return;
    }
    // Recorded before the acknowledgement goes out: from here on a crash cannot lose the request. No token is kept.
    const request = storedRequestText({ ...frame, stream }, replySecret);
    const entry = { gateway: gatewayId, owner, requestId: frame.id, request, principal, expiresAt: authenticator.expiresAt(principal), replyTopic: target.topic, correlationData: target.correlationData };
    if (!ledger.accept(entry)) {
      const state = ledger.state(gatewayId, owner, frame.id);
      if (state !== "accepted") {
        this.duplicatesDropped += 1;
        logger.info({ owner, id: frame.id, state, redelivered: packet.dup }, `mqtt duplicate request ignored: already ${state}`);
        return;
      }
      logger.info({ owner, id: frame.id }, "mqtt request interrupted by an earlier stop: running it again");
    }
    void this.run({ owner, frame, stream, target }, principal);
  }

  private refuseForbidden(): void {
    this.forbidden += 1;
    this.events.frameRefused("forbidden");
  }

  /** Where replies of this owner go: the requested response topic when it lies under the owner's, else its own; undefined when refused. */
  private target(owner: string, responseTopic: string | undefined, correlationData: Buffer | undefined): ReplyTarget | undefined {
    const { topics } = this.options;
    if (responseTopic !== undefined) return topics.allowsResponseTopic(owner, responseTopic) ? ownTarget(responseTopic, correlationData) : undefined;
    const own = topics.responseTopic(owner);
    return own === undefined ? undefined : ownTarget(own, correlationData);
  }

  private resume(entry: StoredLedgerEntry): void {
    const { logger } = this.options.context;
    const { owner, requestId } = entry;
    const { request, replySecret } = storedRequest(entry.request);
    const target: ReplyTarget = { ...ownTarget(entry.replyTopic, entry.correlationData), ...(replySecret ? { sealed: new SealedReplies(replySecret) } : {}) };
    const answer = (frame: ServerFrame, why: string) => {
      logger.warn({ owner, id: requestId, reason: why }, "mqtt interrupted request answered without running it");
      this.active.add(keyOf(owner, requestId));
      void this.settle(owner, requestId, this.options.publish(target, frame), false);
    };
    if (entry.state === "recorded" && entry.finalFrame) {
      // Its exchange is stored already: the client gets the stored finish, nothing is generated or stored again.
      return answer(JSON.parse(entry.finalFrame) as ServerFrame, "recorded before the stop: its finish is sent again");
    }
    const parsed = parseTransportFrame(request);
    if ("error" in parsed || parsed.frame.type !== "chat") {
      return answer(errorFrame(requestId, new ClawError("bad_request", "The stored request could not be read.")), "unreadable");
    }
    if (entry.expiresAt !== undefined && entry.expiresAt <= Date.now()) {
      const expired = new ClawError("unauthorized", "The token expired before the interrupted request could be resumed; send it again with a fresh token.");
      return answer(errorFrame(requestId, expired), "token expired");
    }
    const revoked = this.options.context.authenticator.revoked?.(entry.principal);
    if (revoked) return answer(errorFrame(requestId, new ClawError("unauthorized", revoked)), revoked);
    logger.info({ owner, id: requestId }, "mqtt resuming an interrupted request");
    void this.run({ owner, frame: parsed.frame, stream: parsed.stream, target }, entry.principal);
  }

  private async run(request: RequestToRun, principal: Principal): Promise<void> {
    const { owner, frame, stream, target } = request;
    const { ledger, gatewayId, context } = this.options;
    this.active.add(keyOf(owner, frame.id));
    const outcome = { terminal: Promise.resolve(false), retryable: false };
    const sink = this.sink(target, (frame, published) => {
      if (frame.type === "error" && retryableCodes.has(String(frame.code))) outcome.retryable = true;
      if (frame.type === "finish" || frame.type === "error") outcome.terminal = published;
    });
    // The exchange and the ledger's "recorded" mark (with the finish) in one transaction: never stored twice.
    const recordExchange = (store: () => void, finish: FinishPart) => ledger.record(gatewayId, owner, frame.id, store, JSON.stringify(serverFrame(frame.id, finish)));
    try {
      await this.session.receive(frame, principal, { owner, sink, stream, recordExchange });
    } catch (error) {
      context.logger.error({ err: error, id: frame.id }, "mqtt request failed");
    }
    await this.settle(owner, frame.id, outcome.terminal, outcome.retryable);
  }

  /** Publishes to one target; `full` tells the answer to wait while the broker has not taken enough of the replies. */
  private sink(target: ReplyTarget, published?: (frame: ServerFrame, delivered: Promise<boolean>) => void): FrameSink {
    const { buffer } = this.options;
    return {
      send: (frame) => {
        const delivered = this.options.publish(target, frame);
        published?.(frame, delivered);
        return !buffer.full();
      },
      drained: (signal) => buffer.drained(signal),
    };
  }

  /**
   * Settles a request's ledger record once its last frame is with the broker: answered, or forgotten when it
   * was refused as busy or not ready (so the same id may be sent again). If the last frame could not be
   * published, the record stays and the request is taken up again after the next start.
   */
  private async settle(owner: string, requestId: string, terminal: Promise<boolean>, retryable: boolean): Promise<void> {
    const { ledger, gatewayId, context } = this.options;
    try {
      if (retryable) ledger.forget(gatewayId, owner, requestId);
      else if (await terminal) ledger.markAnswered(gatewayId, owner, requestId);
    } catch (error) {
      context.logger.warn({ err: error, owner, id: requestId }, "mqtt request ledger not updated");
    } finally {
      this.active.delete(keyOf(owner, requestId));
    }
  }
}

function ownTarget(topic: string, correlationData: Buffer | undefined): ReplyTarget {
  return { topic, ...(correlationData ? { correlationData } : {}) };
}

function keyOf(owner: string, requestId: string): string {
  return `${owner}\u0000${requestId}`;
}
