// Reads an `im.message.receive_v1` event (webhook or long connection, in the SDK's flattened form) into an ImInbound.
import type { ImInbound } from "../im-channel.js";

/** Where an answer goes: a reply to the user's message (the card it creates is remembered for updates). */
export interface FeishuTarget {
  /** The user's message (om_…), replied to. */
  messageId: string;
  /** The card the answer is streamed into, once its first reply was sent. */
  cardMessageId?: string;
}

export interface FeishuMessageEvent {
  inbound: ImInbound;
  target: FeishuTarget;
}

interface Mention {
  key?: unknown;
  name?: unknown;
  id?: { open_id?: unknown };
}

/**
 * `event` is `{...header, ...event}` of a v2 envelope (what the SDK's dispatcher hands a handler). Undefined when it is
 * not a message we answer (not a user's text message, fields missing).
 */
export function readMessageEvent(event: Record<string, unknown>, options: { userIdType: "open_id" | "user_id" | "union_id"; botOpenId?: string }): FeishuMessageEvent | undefined {
  const message = record(event.message);
  const sender = record(event.sender);
  if (!message || !sender || message.message_type !== "text") return undefined;
  // Another bot's (or our own) messages are never answered: two bots in one group would talk forever.
  if (sender.sender_type !== undefined && sender.sender_type !== "user") return undefined;
  const senderIds = record(sender.sender_id);
  const senderId = senderIds?.[options.userIdType];
  const { message_id: messageId, chat_id: chatId, chat_type: chatType } = message;
  if (!nonEmpty(messageId) || !nonEmpty(chatId) || !nonEmpty(senderId)) return undefined;
  let text: unknown;
  try {
    text = record(JSON.parse(String(message.content)))?.text;
  } catch {
    return undefined;
  }
  if (typeof text !== "string") return undefined;
  const mentions = (Array.isArray(message.mentions) ? message.mentions : []).filter((mention): mention is Mention => record(mention) !== undefined);
  const isBot = (mention: Mention) => (options.botOpenId ? mention.id?.open_id === options.botOpenId : true);
  for (const mention of mentions) {
    if (typeof mention.key !== "string" || mention.key.length === 0) continue;
    // The bot's own mention goes; another person's becomes their name, so the model reads who was meant.
    const replacement = isBot(mention) ? "" : `@${typeof mention.name === "string" ? mention.name : "user"}`;
    text = (text as string).split(mention.key).join(replacement);
  }
  return {
    inbound: {
      messageId,
      conversationId: chatId,
      chatType: chatType === "p2p" ? "direct" : "group",
      senderId,
      text: (text as string).trim(),
      mentioned: mentions.some(isBot),
    },
    target: { messageId },
  };
}

function record(value: unknown): Record<string, unknown> | undefined {
  return typeof value === "object" && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
}

function nonEmpty(value: unknown): value is string {
  return typeof value === "string" && value.length > 0 && value.length <= 256;
}
