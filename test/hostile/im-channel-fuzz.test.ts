// Fuzzes ImChannel.receive (what every IM adapter hands it after verification) with hostile values and texts, over an echoing pipeline:
// it never throws, answers each new message id at most once, delivers only pieces within the byte limit, and keeps answering. ~3 s.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { StreamPart } from "../../src/core/types.js";
import type { GatewayContext } from "../../src/gateways/gateway.js";
import { ImChannel, type ImInbound } from "../../src/gateways/im/im-channel.js";
import { silentLogger } from "../../src/logging/logger.js";
import type { Pipeline } from "../../src/pipeline/pipeline.js";
import type { PipelineRequest, Reply } from "../../src/pipeline/pipeline-request.js";

const maxBytes = 80;
const outcomes = ["accepted", "duplicate", "ignored", "refused"];

/** A pipeline that answers with the message itself, so hostile texts reach the splitter and the delivery. */
const echo = {
  async handle(request: PipelineRequest, reply: Reply) {
    reply.write({ type: "text-delta", text: request.message ?? "" });
    reply.write({ type: "finish", text: request.message ?? "", finishReason: "stop" } as unknown as StreamPart);
  },
} as unknown as Pipeline;

const hostileText = fc.oneof(
  fc.string({ unit: "binary", maxLength: 400 }),
  fc.string({ unit: "grapheme", maxLength: 200 }),
  fc.constantFrom("```", "```js\n" + "x\n".repeat(80), "\u0301".repeat(300), "\uD800", "\uDFFF\uD800", "~~~~\n\n\n```", "@bot ".repeat(50), ""),
);
const hostileValue = fc.oneof(fc.string({ maxLength: 40 }), fc.constant(""), fc.constant(null), fc.integer(), fc.constant("__proto__"), fc.constant(undefined), fc.object({ maxDepth: 1 }));
const inbound = fc.record({
  messageId: fc.oneof(fc.string({ maxLength: 12 }), hostileValue, fc.constant("x".repeat(600))),
  conversationId: fc.oneof(fc.string({ minLength: 1, maxLength: 300 }), hostileValue),
  chatType: fc.oneof(fc.constantFrom("direct", "group"), hostileValue),
  senderId: fc.oneof(fc.constantFrom("u1", "listed", "constructor", "__proto__"), hostileValue),
  senderName: fc.oneof(fc.string(), hostileValue),
  text: fc.oneof(hostileText, hostileValue),
  mentioned: fc.oneof(fc.boolean(), hostileValue),
});

describe("ImChannel under hostile messages", () => {
  it("never throws, answers each taken message once within the byte limit, and still answers afterwards", async () => {
    const deliveries: { target: string; text: string }[] = [];
    const context = { pipeline: echo, logger: silentLogger } as unknown as GatewayContext;
    const channel = new ImChannel<string>({
      platform: "fuzz",
      name: "fuzz",
      context,
      maxMessageBytes: maxBytes,
      config: { users: { listed: { roles: ["user"] } }, default_roles: ["user"], unknown_users: "allow", group_reply: "mention", delivery_timeout: 1, answer_timeout: 5 },
      deliver: async (target, text) => void deliveries.push({ target, text }),
    });
    let taken = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(inbound, { maxLength: 8 }), async (messages) => {
        for (const message of messages) {
          const outcome = channel.receive(message as unknown as ImInbound, `t${taken}`);
          expect(outcomes).toContain(outcome);
          if (outcome === "accepted") taken += 1;
        }
        while (channel.busy) await new Promise((resolve) => setTimeout(resolve, 1));
      }),
      { numRuns: 150 },
    );
    for (const delivery of deliveries) expect(Buffer.byteLength(delivery.text)).toBeLessThanOrEqual(maxBytes);
    // Each taken message got its answer's pieces delivered to its own target, none to another's.
    expect(new Set(deliveries.map((delivery) => delivery.target)).size).toBe(taken);
    const fresh = { messageId: "final-check", conversationId: "c", chatType: "direct", senderId: "u1", text: "still here", mentioned: false } as const;
    expect(channel.receive(fresh, "last")).toBe("accepted");
    await channel.close(1000);
    expect(deliveries.at(-1)).toEqual({ target: "last", text: "still here" });
  });
});
