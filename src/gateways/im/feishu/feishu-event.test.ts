// Reading im.message.receive_v1 events: ids, chat type, mentions, and what is not answered.
import { describe, expect, it } from "vitest";
import { readMessageEvent } from "./feishu-event.js";

function event(message: Record<string, unknown>, sender: Record<string, unknown> = {}) {
  return {
    event_id: "ev1",
    event_type: "im.message.receive_v1",
    sender: { sender_id: { open_id: "ou_alice", user_id: "alice" }, sender_type: "user", ...sender },
    message: { message_id: "om_1", chat_id: "oc_1", chat_type: "group", message_type: "text", content: JSON.stringify({ text: "@_user_1 hello @_user_2" }), ...message },
  };
}
const mentions = [
  { key: "@_user_1", name: "Bot", id: { open_id: "ou_bot" } },
  { key: "@_user_2", name: "Bob", id: { open_id: "ou_bob" } },
];

describe("readMessageEvent", () => {
  it("removes the bot's mention, names other people, and maps ids", () => {
    const read = readMessageEvent(event({ mentions }), { userIdType: "open_id", botOpenId: "ou_bot" });
    expect(read?.inbound).toEqual({ messageId: "om_1", conversationId: "oc_1", chatType: "group", senderId: "ou_alice", text: "hello @Bob", mentioned: true });
    expect(read?.target).toEqual({ messageId: "om_1" });
  });

  it("counts only the configured bot's mention, or any mention without bot_open_id", () => {
    const others = [mentions[1]];
    expect(readMessageEvent(event({ mentions: others }), { userIdType: "open_id", botOpenId: "ou_bot" })?.inbound.mentioned).toBe(false);
    expect(readMessageEvent(event({ mentions: others }), { userIdType: "open_id" })?.inbound.mentioned).toBe(true);
    expect(readMessageEvent(event({}), { userIdType: "open_id" })?.inbound.mentioned).toBe(false);
  });

  it("maps p2p chats to direct and uses the configured user id type", () => {
    const read = readMessageEvent(event({ chat_type: "p2p" }), { userIdType: "user_id" });
    expect(read?.inbound.chatType).toBe("direct");
    expect(read?.inbound.senderId).toBe("alice");
  });

  it("skips non-text messages, bots' messages, broken content and missing ids", () => {
    const options = { userIdType: "open_id" as const };
    expect(readMessageEvent(event({ message_type: "image", content: "{}" }), options)).toBeUndefined();
    expect(readMessageEvent(event({}, { sender_type: "app" }), options)).toBeUndefined();
    expect(readMessageEvent(event({ content: "{not json" }), options)).toBeUndefined();
    expect(readMessageEvent(event({ chat_id: undefined }), options)).toBeUndefined();
    expect(readMessageEvent(event({}), { userIdType: "union_id" })).toBeUndefined();
    expect(readMessageEvent({ message: "x" }, options)).toBeUndefined();
  });
});
