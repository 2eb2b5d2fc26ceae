// ImChannel with a scripted pipeline: streamed partial updates then the final answer, error texts, answer_timeout, metrics events, close.
import { describe, expect, it } from "vitest";
import { ClawError } from "../../core/errors.js";
import type { StreamPart } from "../../core/types.js";
import { silentLogger } from "../../logging/logger.js";
import type { Pipeline } from "../../pipeline/pipeline.js";
import type { PipelineRequest, Reply } from "../../pipeline/pipeline-request.js";
import type { GatewayContext } from "../gateway.js";
import { ImChannel, type DeliveryKind, type ImInbound } from "./im-channel.js";
import type { ImCommonConfig } from "./im-config.js";

const config: ImCommonConfig = { users: {}, default_roles: ["user"], unknown_users: "allow", group_reply: "mention", delivery_timeout: 5, answer_timeout: 5 };
const inbound: ImInbound = { messageId: "m1", conversationId: "c1", chatType: "direct", senderId: "u1", text: "hi", mentioned: false };
const finish = (text: string): StreamPart => ({ type: "finish", text, finishReason: "stop", usage: { promptTokens: 1, completionTokens: 1, totalTokens: 2 }, timings: {} } as unknown as StreamPart);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A channel over a pipeline that runs `script`; what it delivers and the events it reports are recorded. */
function channelWith(script: (request: PipelineRequest, reply: Reply, signal: AbortSignal) => Promise<void>, extra: { streamingMs?: number; config?: Partial<ImCommonConfig> } = {}) {
  const deliveries: { text: string; kind: DeliveryKind }[] = [];
  const events: string[] = [];
  const requests: PipelineRequest[] = [];
  const pipeline = { handle: (request: PipelineRequest, reply: Reply, signal?: AbortSignal) => (requests.push(request), script(request, reply, signal as AbortSignal)) } as unknown as Pipeline;
  const record = (name: string) => (code?: string) => void events.push(code ? `${name}:${code}` : name);
  const context = {
    pipeline,
    logger: silentLogger,
    events: { frameReceived: record("received"), frameSent: record("sent"), frameRefused: record("refused"), authFailed: record("auth"), connectionOpened: record("open"), connectionClosed: record("close") },
  } as unknown as GatewayContext;
  const channel = new ImChannel<string>({
    platform: "test",
    name: "test",
    config: { ...config, ...extra.config },
    context,
    maxMessageBytes: 64,
    ...(extra.streamingMs ? { streaming: { intervalMs: extra.streamingMs } } : {}),
    deliver: async (_target, text, kind) => void deliveries.push({ text, kind }),
  });
  const settled = async () => {
    while (channel.busy) await sleep(5);
  };
  return { channel, deliveries, events, requests, settled };
}

describe("ImChannel", () => {
  it("streams partial updates of the answer so far, then the final answer, and counts the frames", async () => {
    const { channel, deliveries, events, requests, settled } = channelWith(async (_request, reply) => {
      for (const word of ["one ", "two ", "three"]) {
        reply.write({ type: "text-delta", text: word });
        await sleep(30);
      }
      reply.write(finish("one two three"));
    }, { streamingMs: 10 });
    expect(channel.receive(inbound, "target")).toBe("accepted");
    await settled();
    const partials = deliveries.filter((delivery) => delivery.kind === "partial").map((delivery) => delivery.text);
    expect(partials.length).toBeGreaterThanOrEqual(2);
    expect(partials.every((text) => "one two three".startsWith(text))).toBe(true);
    expect(deliveries.at(-1)).toEqual({ text: "one two three", kind: "final" });
    expect(events.filter((event) => event === "sent")).toHaveLength(deliveries.length);
    expect(events[0]).toBe("received");
    expect(requests[0]).toMatchObject({ id: "m1", gateway: "test", session: "test:c1", message: "hi", principal: { subject: "test:u1", roles: ["user"] } });
  });

  it("delivers a short coded error text when the pipeline fails, in English and Chinese", async () => {
    const { channel, deliveries, settled } = channelWith(async (_request, reply) => {
      reply.write({ type: "error", error: new ClawError("overloaded", "All sequences are busy.") });
    });
    channel.receive(inbound, "target");
    await settled();
    // Longer than the 64 bytes of this channel: two pieces, one line each.
    expect(deliveries.map((delivery) => delivery.text).join("")).toMatch(/^Sorry — the assistant is busy \(overloaded\)[^\n]*\n抱歉，助手正忙/);
  });

  it("cancels an answer past answer_timeout and says so", async () => {
    const { channel, deliveries, settled } = channelWith(
      async (_request, reply, signal) => {
        await new Promise((resolve) => signal.addEventListener("abort", resolve, { once: true }));
        reply.write({ type: "error", error: new ClawError("cancelled", "The request was cancelled.") });
      },
      { config: { answer_timeout: 0.05 } },
    );
    channel.receive(inbound, "target");
    await settled();
    expect(deliveries.map((delivery) => delivery.text).join("")).toMatch(/took too long and was cancelled \(cancelled\)/);
  });

  it("ignores empty texts, unmentioned group messages (unless group_reply: all) and malformed messages", async () => {
    const { channel, requests, events } = channelWith(async (_request, reply) => void reply.write(finish("ok")));
    expect(channel.receive({ ...inbound, text: "  " }, "t")).toBe("ignored");
    expect(channel.receive({ ...inbound, chatType: "group" }, "t")).toBe("ignored");
    expect(channel.receive({ ...inbound, messageId: "" }, "t")).toBe("ignored");
    expect(channel.receive({ ...inbound, chatType: "group", mentioned: true }, "t")).toBe("accepted");
    expect(events).toContain("refused:bad_request");
    const all = channelWith(async (_request, reply) => void reply.write(finish("ok")), { config: { group_reply: "all" } });
    expect(all.channel.receive({ ...inbound, chatType: "group" }, "t")).toBe("accepted");
    await all.settled();
    expect(requests).toHaveLength(1);
  });

  it("close() waits for answers within the grace, then takes no more messages", async () => {
    const { channel, deliveries } = channelWith(async (_request, reply) => {
      await sleep(30);
      reply.write(finish("late but delivered"));
    });
    channel.receive(inbound, "t");
    await channel.close(2000);
    expect(deliveries.map((delivery) => delivery.text)).toEqual(["late but delivered"]);
    expect(channel.receive({ ...inbound, messageId: "m2" }, "t")).toBe("ignored");
    expect(channel.stats()).toMatchObject({ answering: 0, queued: 0, delivered: 1 });
  });
});
