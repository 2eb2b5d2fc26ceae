// What every work-IM adapter shares once a platform delivery is verified: dedupe, mention filter, identity, the pipeline, split and queued delivery.
// One inbound message → dedupe by message id (the request ledger) → group mention filter → platform user to Principal →
// the pipeline (session = the conversation) → the answer split at the platform's size limit and delivered through a
// per-conversation queue under the platform's rate limits, retried with backoff (never dropped), channel metrics.
import { ClawError } from "../../core/errors.js";
import type { Principal, StreamPart } from "../../core/types.js";
import type { PipelineRequest, Reply } from "../../pipeline/pipeline-request.js";
import type { GatewayStatus } from "../gateway.js";
import { ignoredGatewayEvents } from "../gateway-events.js";
import { DeliveryQueue, type DeliveryResult } from "./delivery-queue.js";
import type { DeliveryKind, ImChannelOptions, ImInbound, ReceiveOutcome } from "./im-channel-types.js";
import { imPrincipal } from "./im-identity.js";
import { emptyAnswerText, errorText, refusalText } from "./im-replies.js";
import { InboundDedup } from "./inbound-dedup.js";
import { splitMessage } from "./message-splitter.js";
import { PartialStream } from "./partial-stream.js";

export * from "./im-channel-types.js";

/** Answered ledger records older than this are pruned at start: the platforms retry within minutes, never days. */
const ledgerRetentionMs = 7 * 24 * 3600_000;

export class ImChannel<Target> {
  private readonly dedup: InboundDedup;
  private readonly queue: DeliveryQueue;
  private readonly answers = new Set<Promise<void>>();
  private readonly controllers = new Set<AbortController>();
  private readonly events;
  private closed = false;

  constructor(private readonly options: ImChannelOptions<Target>) {
    const { context, config, platform } = options;
    this.events = context.events ?? ignoredGatewayEvents;
    // Keyed by platform, not by the adapter's name (which may hold a port): a platform's message ids are unique across
    // its apps, and a message redelivered after a restart or a change of mode is still recognised.
    this.dedup = new InboundDedup({ gateway: `im:${platform}`, ...(context.requestLedger ? { ledger: context.requestLedger } : {}) });
    try {
      this.dedup.prune(ledgerRetentionMs);
    } catch (error) {
      context.logger.warn({ err: error, gateway: options.name }, "could not prune the IM request ledger");
    }
    this.queue = new DeliveryQueue({
      ...rates(config.user_rate_per_minute ?? options.platformRates?.userPerMinute, config.group_rate_per_minute ?? options.platformRates?.groupPerMinute),
      deliveryTimeoutMs: config.delivery_timeout * 1000,
      ...(options.onTokenExpired ? { onTokenExpired: () => options.onTokenExpired?.() } : {}),
      logger: context.logger.child({ gateway: options.name }),
    });
  }

  /**
   * Takes one verified message and returns at once (the platform wants its answer within seconds): `duplicate` when
   * this message id was already taken, `ignored` (group message without mention, empty text, channel closing),
   * `refused` (unknown user with `unknown_users: refuse` — a refusal text is delivered), else `accepted` and the
   * answer is generated and delivered in the background. `target` is where the answer goes (the adapter's own type).
   */
  receive(message: ImInbound, target: Target): ReceiveOutcome {
    const { config, platform, context } = this.options;
    this.events.frameReceived();
    if (!isInbound(message)) {
      this.events.frameRefused("bad_request");
      return "ignored";
    }
    // Stopping: not taken, so not in the ledger; a platform that redelivers has it answered after the restart.
    if (this.closed) return "ignored";
    const text = message.text.trim();
    if (text === "") return "ignored";
    if (message.chatType === "group" && config.group_reply === "mention" && !message.mentioned) return "ignored";
    const principal = imPrincipal(platform, config, message.senderId, message.senderName);
    const owner = principal?.subject ?? `${platform}:${message.senderId}`;
    if (!this.take(message, target, owner, principal)) return "duplicate";
    if (!principal) {
      context.logger.info({ gateway: this.options.name, sender: message.senderId }, "IM message from an unlisted user refused (unknown_users: refuse)");
      this.events.frameRefused("forbidden");
      this.track(this.deliverAll(message, target, [refusalText]).then(() => this.markAnswered(owner, message.messageId)));
      return "refused";
    }
    this.track(this.answer(message, text, target, principal));
    return "accepted";
  }

  /** Whether answers are still being generated or delivered. */
  get busy(): boolean {
    return this.answers.size > 0 || this.queue.queued > 0;
  }

  /** For the adapter's status(): answers in flight, deliveries waiting, and delivery counts since start. */
  stats(): { answering: number; queued: number; delivered: number; retried: number; failed: number } {
    const { sent, retried, failed } = this.queue.counts;
    return { answering: this.answers.size, queued: this.queue.queued, delivered: sent, retried, failed };
  }

  /** Stops taking messages; waits for answers and queued deliveries up to `graceMs`, then cancels the rest. */
  async close(graceMs = 10_000): Promise<void> {
    this.closed = true;
    const deadline = Date.now() + graceMs;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([Promise.allSettled([...this.answers]), new Promise<void>((resolve) => (timer = setTimeout(resolve, graceMs)))]);
    clearTimeout(timer);
    for (const controller of this.controllers) controller.abort();
    await this.queue.close(Math.max(0, deadline - Date.now()));
    await Promise.allSettled([...this.answers]);
  }

  /** Records the message id (ledger or memory); false for one already taken. A failing ledger does not lose the message. */
  private take(message: ImInbound, target: Target, owner: string, principal: Principal | undefined): boolean {
    try {
      return this.dedup.accept({
        owner,
        messageId: message.messageId,
        request: JSON.stringify(message),
        replyTopic: serialised(target),
        principal: principal ?? { subject: owner, roles: [], scopes: [], claims: {} },
      });
    } catch (error) {
      this.options.context.logger.error({ err: error, gateway: this.options.name }, "the IM request ledger failed; answering without deduplication");
      return true;
    }
  }

  private markAnswered(owner: string, messageId: string): void {
    try {
      this.dedup.markAnswered(owner, messageId);
    } catch (error) {
      this.options.context.logger.error({ err: error, gateway: this.options.name }, "could not mark an IM message answered in the request ledger");
    }
  }

  private track(answer: Promise<void>): void {
    const tracked = answer.catch((error: unknown) => this.options.context.logger.error({ err: error, gateway: this.options.name }, "IM answer failed outside the pipeline"));
    this.answers.add(tracked);
    void tracked.finally(() => this.answers.delete(tracked));
  }

  private async answer(message: ImInbound, text: string, target: Target, principal: Principal): Promise<void> {
    const { config, platform, context, streaming } = this.options;
    const controller = new AbortController();
    this.controllers.add(controller);
    const timeout = setTimeout(() => controller.abort(), config.answer_timeout * 1000);
    const stream = streaming ? new PartialStream((soFar) => this.deliverPartial(message, target, soFar), streaming.intervalMs) : undefined;
    let outcome: { text: string } | { error: ClawError } | undefined;
    const reply: Reply = {
      write: (part: StreamPart) => {
        if (part.type === "finish") outcome = { text: part.text };
        else if (part.type === "error") outcome = { error: part.error };
        else stream?.write(part);
        return true;
      },
    };
    const request: PipelineRequest = {
      id: message.messageId,
      principal,
      // Stored sessions are per subject: in a group every member has their own history of that group.
      session: `${platform}:${message.conversationId}`.slice(0, 256),
      message: text,
      gateway: platform,
      ...(config.agent !== undefined ? { agent: config.agent } : {}),
    };
    try {
      await context.pipeline.handle(request, reply, controller.signal);
    } catch (error) {
      outcome = { error: error instanceof ClawError ? error : new ClawError("internal", "Internal error.", { cause: error }) };
    } finally {
      clearTimeout(timeout);
      this.controllers.delete(controller);
      stream?.stop();
    }
    if (outcome && "error" in outcome) context.logger.info({ gateway: this.options.name, code: outcome.error.code, id: message.messageId }, "IM answer failed");
    const answer = !outcome ? errorText("internal") : "error" in outcome ? errorText(outcome.error.code) : outcome.text.trim() === "" ? emptyAnswerText : outcome.text;
    if (stream) await stream.settled();
    await this.deliverAll(message, target, splitMessage(answer, this.options.maxMessageBytes));
    this.markAnswered(principal.subject, message.messageId);
  }

  /** Queues the final pieces in order; resolves once each was sent or given up. */
  private async deliverAll(message: ImInbound, target: Target, pieces: string[]): Promise<DeliveryResult[]> {
    const route = { conversation: message.conversationId, chatType: message.chatType };
    return Promise.all(
      pieces.map((piece, index) =>
        this.queue.enqueue(route, async () => {
          await this.options.deliver(target, piece, "final", { index, count: pieces.length });
          this.events.frameSent();
        }),
      ),
    );
  }

  private deliverPartial(message: ImInbound, target: Target, soFar: string): Promise<DeliveryResult> {
    // The streamed message holds one piece: the final answer's first piece replaces it, the rest follow as new ones.
    const [first] = splitMessage(soFar, this.options.maxMessageBytes);
    const kind: DeliveryKind = "partial";
    return this.queue.enqueue(
      { conversation: message.conversationId, chatType: message.chatType },
      async () => {
        await this.options.deliver(target, first ?? "", kind, { index: 0, count: 1 });
        this.events.frameSent();
      },
      { partial: true },
    );
  }
}

/** The target as JSON for the ledger's reply column, or "" when it does not serialise (a socket, a cycle). */
function serialised(target: unknown): string {
  try {
    return JSON.stringify(target) ?? "";
  } catch {
    return "";
  }
}

function isInbound(message: ImInbound): boolean {
  return (
    typeof message === "object" &&
    message !== null &&
    typeof message.messageId === "string" &&
    message.messageId !== "" &&
    message.messageId.length <= 512 &&
    typeof message.conversationId === "string" &&
    message.conversationId !== "" &&
    (message.chatType === "direct" || message.chatType === "group") &&
    typeof message.senderId === "string" &&
    message.senderId !== "" &&
    typeof message.text === "string" &&
    typeof message.mentioned === "boolean"
  );
}

/** A helper for status(): the channel's adapter fills type/name/state. */
export type ImStatus = GatewayStatus;

/** The delivery queue's limits: the config's, else the platform's own (none: unlimited). */
function rates(user: number | undefined, group: number | undefined): { userRatePerMinute?: number; groupRatePerMinute?: number } {
  return { ...(user !== undefined ? { userRatePerMinute: user } : {}), ...(group !== undefined ? { groupRatePerMinute: group } : {}) };
}
