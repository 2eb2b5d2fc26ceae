// A robot message's `data` (Stream CALLBACK or HTTP callback body) checked and turned into an ImInbound and its reply target.
import { z } from "zod";
import type { ImInbound } from "../im-channel.js";

/** Where an answer goes: the message's sessionWebhook while it is valid, else the robot OpenAPI. */
export interface DingtalkTarget {
  chatType: "direct" | "group";
  /** The openConversationId (groupMessages/send). */
  conversationId: string;
  /** The sender's staff id (oToMessages/batchSend), when the platform gave one. */
  staffId?: string;
  sessionWebhook?: string;
  /** When the sessionWebhook stops working (ms since the epoch). */
  sessionWebhookExpiresAt?: number;
}

const id = z.string().min(1).max(512);

const botMessageSchema = z.object({
  msgId: id,
  conversationId: id,
  conversationType: z.enum(["1", "2"]),
  senderId: id,
  senderStaffId: id.optional(),
  senderNick: z.string().max(512).optional(),
  isInAtList: z.boolean().optional(),
  msgtype: z.string().max(64).optional(),
  text: z.object({ content: z.string().max(64 * 1024) }).passthrough().optional(),
  sessionWebhook: z.string().max(2048).url().regex(/^https?:\/\//).optional(),
  sessionWebhookExpiredTime: z.number().finite().optional(),
});

export type ParsedBotMessage = { inbound: ImInbound; target: DingtalkTarget } | { error: string };

/** Checks the fields the adapter uses (others pass); a message that is not text has empty text (the channel ignores it). */
export function parseBotMessage(data: unknown): ParsedBotMessage {
  const result = botMessageSchema.safeParse(data);
  if (!result.success) {
    const issue = result.error.issues[0];
    return { error: `the robot message's ${issue?.path.join(".") || "body"} is invalid: ${issue?.message ?? "unknown"}` };
  }
  const message = result.data;
  const chatType = message.conversationType === "1" ? "direct" : "group";
  // DingTalk removes the bot's own @-mention from the content; what is left often starts with a space.
  const text = message.msgtype === undefined || message.msgtype === "text" ? (message.text?.content ?? "").trim() : "";
  const inbound: ImInbound = {
    messageId: message.msgId,
    conversationId: message.conversationId,
    chatType,
    senderId: message.senderStaffId ?? message.senderId,
    ...(message.senderNick !== undefined ? { senderName: message.senderNick } : {}),
    text,
    mentioned: chatType === "direct" || message.isInAtList === true,
  };
  const target: DingtalkTarget = {
    chatType,
    conversationId: message.conversationId,
    ...(message.senderStaffId !== undefined ? { staffId: message.senderStaffId } : {}),
    ...(message.sessionWebhook !== undefined ? { sessionWebhook: message.sessionWebhook } : {}),
    ...(message.sessionWebhookExpiredTime !== undefined ? { sessionWebhookExpiresAt: message.sessionWebhookExpiredTime } : {}),
  };
  return { inbound, target };
}
