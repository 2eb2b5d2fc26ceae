// The types an IM channel and its platform adapters share: an inbound message, a delivery, a platform API failure, the options.
import type { GatewayContext } from "../gateway.js";
import type { ImCommonConfig } from "./im-config.js";

/** One message a platform delivered, after its signature/decryption was checked by the adapter. */
export interface ImInbound {
  /** The platform's message id: retried deliveries carry the same one (deduplicated). */
  messageId: string;
  /** The chat it was sent in (a user's 1:1 chat or a group): the Clawbot session is per conversation and sender. */
  conversationId: string;
  chatType: "direct" | "group";
  /** The platform's user id of the sender (mapped through `users`). */
  senderId: string;
  senderName?: string;
  /** The text, with the bot's own @-mention removed. */
  text: string;
  /** Whether the bot was @-mentioned (group chats). */
  mentioned: boolean;
}

/** What one delivery is: the answer so far (a streaming platform updates one message) or a final piece. */
export type DeliveryKind = "partial" | "final";

/** A platform API failure: `retryable` ones (rate limited, 5xx, network, expired token) are retried with backoff. */
export class ImDeliveryError extends Error {
  constructor(
    message: string,
    readonly retryable: boolean,
    /** The platform asked to wait this long (ms), when it said. */
    readonly retryAfterMs?: number,
    /** The access token was refused (expired or revoked early): the adapter's TokenCache is invalidated before the retry. */
    readonly tokenExpired = false,
  ) {
    super(message);
    this.name = "ImDeliveryError";
  }
}

export interface ImChannelOptions<Target> {
  /** "wecom", "dingtalk", "feishu": the gateway type in metrics, the policy's gateway name, the ledger's gateway key prefix. */
  platform: string;
  /** A name for logs and /readyz, e.g. "wecom callback :8080/wecom/callback". */
  name: string;
  config: ImCommonConfig;
  context: GatewayContext;
  /** Largest message the platform takes, in UTF-8 bytes (WeCom 2048, DingTalk ~20000, Feishu ~30000 in a text). */
  maxMessageBytes: number;
  /**
   * Sends one piece to the platform (one API call). `final` pieces are the answer split at maxMessageBytes (each
   * delivered once, in order); `partial` ones (only when `streaming` is set) carry the whole answer so far, for a
   * platform that updates one message. Throw ImDeliveryError to have it retried or given up.
   */
  deliver(target: Target, text: string, kind: DeliveryKind, piece: { index: number; count: number }): Promise<void>;
  /** Send `partial` deliveries at most this often while the answer streams (WeCom AI bot streams, Feishu card updates). */
  streaming?: { intervalMs: number };
  /** Called before a retry whose error had tokenExpired (the adapter drops its cached token). */
  onTokenExpired?(): void;
  /** The platform's own send limits, used when the config sets no `user_rate_per_minute` / `group_rate_per_minute`. */
  platformRates?: { userPerMinute?: number; groupPerMinute?: number };
}

export type ReceiveOutcome = "accepted" | "duplicate" | "ignored" | "refused";
