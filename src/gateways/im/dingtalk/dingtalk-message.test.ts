// The robot message parser: direct and group messages, the sender's staff id, invalid and non-text messages.
import { describe, expect, it } from "vitest";
import { parseBotMessage } from "./dingtalk-message.js";

const base = {
  conversationId: "cidAbC==",
  chatbotUserId: "$:LWCP_v1:$bot",
  msgId: "msgX1",
  senderNick: "Zhang San",
  senderStaffId: "manager1234",
  senderId: "$:LWCP_v1:$sender",
  sessionWebhookExpiredTime: 1_700_000_000_000,
  sessionWebhook: "https://oapi.dingtalk.com/robot/sendBySession?session=abc",
  robotCode: "dingbot",
  msgtype: "text",
  text: { content: " hello there " },
};

describe("parseBotMessage", () => {
  it("maps a 1:1 message: staff id, trimmed text, mentioned, the session webhook", () => {
    const parsed = parseBotMessage({ ...base, conversationType: "1" });
    expect(parsed).toEqual({
      inbound: { messageId: "msgX1", conversationId: "cidAbC==", chatType: "direct", senderId: "manager1234", senderName: "Zhang San", text: "hello there", mentioned: true },
      target: { chatType: "direct", conversationId: "cidAbC==", staffId: "manager1234", sessionWebhook: base.sessionWebhook, sessionWebhookExpiresAt: base.sessionWebhookExpiredTime },
    });
  });

  it("takes isInAtList for group messages and senderId without a staff id", () => {
    const { senderStaffId: _staff, ...withoutStaff } = base;
    const mentioned = parseBotMessage({ ...withoutStaff, conversationType: "2", isInAtList: true });
    expect(mentioned).toMatchObject({ inbound: { chatType: "group", mentioned: true, senderId: "$:LWCP_v1:$sender" }, target: { chatType: "group" } });
    expect("target" in mentioned && "staffId" in mentioned.target).toBe(false);
    expect(parseBotMessage({ ...base, conversationType: "2", isInAtList: false })).toMatchObject({ inbound: { mentioned: false } });
  });

  it("gives empty text for other message types and refuses malformed ones", () => {
    expect(parseBotMessage({ ...base, conversationType: "1", msgtype: "picture" })).toMatchObject({ inbound: { text: "" } });
    for (const bad of [null, "x", {}, { ...base, conversationType: "3" }, { ...base, conversationType: "1", msgId: "" }, { ...base, conversationType: "1", sessionWebhook: "file:///etc/passwd" }]) {
      expect(parseBotMessage(bad)).toHaveProperty("error");
    }
  });
});
