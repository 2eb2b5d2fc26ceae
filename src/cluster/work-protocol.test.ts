// The work queue's wire messages: round trips, and arbitrary bytes or JSON refused without throwing.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { decodeWorkCancel, decodeWorkReply, decodeWorkRequest, encodeWork, type WorkReply, type WorkRequest } from "./work-protocol.js";

const request: WorkRequest = {
  v: 1,
  id: "abc123",
  attempt: 1,
  reply: "clawbot.test.reply.gw.abc123",
  deadline: 1_900_000_000_000,
  origin: "gw",
  request: {
    messages: [{ role: "user", content: "hello 你好" }],
    params: { maxTokens: 16, temperature: 0, stop: ["\n"] },
    conversation: "alice:s1",
    tools: { definitions: [{ name: "clock", description: "time", parameters: { type: "object" } }], choice: "auto", constrained: true },
  },
};

const encode = (value: unknown) => new TextEncoder().encode(JSON.stringify(value));

describe("work protocol", () => {
  it("round-trips a request and every kind of reply", () => {
    expect(decodeWorkRequest(encodeWork(request))).toEqual({ ok: true, value: request });
    const replies: WorkReply[] = [
      { id: "abc123", attempt: 1, delivery: 1, type: "start", node: "w1", seq: 7 },
      { id: "abc123", attempt: 1, delivery: 1, type: "part", part: { type: "text-delta", text: "hi" } },
      { id: "abc123", attempt: 1, delivery: 1, type: "part", part: { type: "tool-call", call: { id: "call_1", name: "clock", arguments: "{}" } } },
      {
        id: "abc123",
        attempt: 2,
        delivery: 3,
        type: "part",
        part: { type: "finish", text: "hi", finishReason: "stop", usage: { promptTokens: 3, completionTokens: 1 }, timings: { queueMs: 0, ttftMs: 1, totalMs: 2 } },
      },
      { id: "abc123", attempt: 1, delivery: 1, type: "working" },
      { id: "abc123", attempt: 1, delivery: 1, type: "requeue" },
      { id: "abc123", attempt: 1, delivery: 1, type: "error", code: "bad_request", message: "no", param: "response_format" },
    ];
    for (const reply of replies) expect(decodeWorkReply(encodeWork(reply))).toEqual({ ok: true, value: reply });
    expect(decodeWorkCancel(new Uint8Array())).toEqual({ ok: true, value: {} });
    expect(decodeWorkCancel(encodeWork({ attempt: 2, delivery: 1 }))).toEqual({ ok: true, value: { attempt: 2, delivery: 1 } });
  });

  it("refuses wrong versions, wildcard subjects and unknown reply kinds", () => {
    expect(decodeWorkRequest(encode({ ...request, v: 2 })).ok).toBe(false);
    expect(decodeWorkRequest(encode({ ...request, reply: "clawbot.>" })).ok).toBe(false);
    expect(decodeWorkRequest(encode({ ...request, id: "a.b" })).ok).toBe(false);
    expect(decodeWorkReply(encode({ id: "abc", attempt: 1, delivery: 1, type: "restart" })).ok).toBe(false);
    expect(decodeWorkReply(encode({ id: "abc", attempt: 0, delivery: 1, type: "working" })).ok).toBe(false);
  });

  it("maps an error code this node does not know to internal", () => {
    const decoded = decodeWorkReply(encode({ id: "abc", attempt: 1, delivery: 1, type: "error", code: "from_the_future", message: "x" }));
    expect(decoded).toMatchObject({ ok: true, value: { code: "internal" } });
  });

  it("never throws on arbitrary bytes or JSON, and refuses what does not fit", () => {
    const decoders = [decodeWorkRequest, decodeWorkReply, decodeWorkCancel];
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 512 }), (bytes) => {
        for (const decode of decoders) {
          const result = decode(bytes);
          expect(typeof result.ok).toBe("boolean");
          if (!result.ok) expect(result.reason).toMatch(/work/);
        }
      }),
      { numRuns: 300 },
    );
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        const bytes = encode(value);
        for (const decode of decoders) expect(() => decode(bytes)).not.toThrow();
        // Arbitrary JSON is almost never a valid request; when it is, it has the required shape.
        const decoded = decodeWorkRequest(bytes);
        if (decoded.ok) expect(decoded.value.v).toBe(1);
      }),
      { numRuns: 300 },
    );
    // Mutations of a valid request: each field replaced by an arbitrary value is refused or still well-formed.
    fc.assert(
      fc.property(fc.constantFrom(...Object.keys(request)), fc.jsonValue(), (key, value) => {
        const decoded = decodeWorkRequest(encode({ ...request, [key]: value }));
        if (decoded.ok) expect(decoded.value.request.messages).toBeInstanceOf(Array);
      }),
      { numRuns: 300 },
    );
  });
});
