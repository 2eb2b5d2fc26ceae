// Fuzzes the `sessions` and `history` frames on a real node's WebSocket gateway: generated ids, limits, offsets and
// session names (huge, negative, fractional, unicode, wrong types, raw JSON numbers) get a coded error or a right reply.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { parseClientFrame } from "../../src/gateways/frames.js";
import { expectWebsocketServed, type HostileNode } from "../helpers/hostile-node.js";
import { WsTestClient, type Frame } from "../helpers/ws-test-client.js";
import { hugeNumberText, serverFrameProblem, sessionFrameArbitrary, type TokenSet } from "./hostile-inputs.js";
import { useHostileNode } from "./use-hostile-node.js";

let node: HostileNode;
let _tokens: TokenSet;

useHostileNode(
  () => ({ agent: { max_tokens: 16 } }),
  (started, startedTokens) => ([node, _tokens] = [started, startedTokens]),
);

/** The reader's sessions, seeded once per node: names that the generated history frames sometimes hit. */
const seeded = ["s1", "会话", "' OR 1=1 --", "%"];
let seededFor: HostileNode | undefined;

async function seed(): Promise<string> {
  const token = await node.token("reader");
  if (seededFor === node) return token;
  const client = await WsTestClient.connect(node.wsUrl, { token });
  try {
    for (const [index, session] of seeded.entries()) {
      const { end } = await client.chat(`seed-${index}`, `question ${index}`, {}, session);
      expect(end.type).toBe("finish");
    }
  } finally {
    client.close();
  }
  seededFor = node;
  return token;
}

const id = fc.oneof(
  { weight: 5, arbitrary: fc.integer({ min: 0, max: 1_000_000 }).map((n) => `q-${n}`) },
  { weight: 1, arbitrary: fc.string({ unit: "grapheme", minLength: 1, maxLength: 8 }) },
  { weight: 1, arbitrary: fc.constantFrom("", "x".repeat(128), "x".repeat(129), null, 7, {}) },
);

/** Frames as text: generated objects, and sessions frames whose limit/offset are raw JSON numbers (1e400, -0, 9007199254740993, …). */
const frameText = fc.oneof(
  { weight: 4, arbitrary: sessionFrameArbitrary(id).map((frame) => JSON.stringify(frame) ?? "null") },
  {
    weight: 1,
    arbitrary: fc
      .tuple(fc.integer({ min: 0, max: 1_000_000 }), hugeNumberText, hugeNumberText)
      .map(([n, limit, offset]) => `{"type":"sessions","id":"raw-${n}","limit":${limit},"offset":${offset}}`),
  },
);

/** What a frame must get: a bad_request error when invalid, else its reply, the page rules checked against the seeded sessions. */
function replyProblem(text: string, reply: Frame | undefined): string | undefined {
  const parsed = parseClientFrame(text);
  if ("error" in parsed) {
    const refused = reply?.type === "error" && reply.id === parsed.id && reply.code === "bad_request";
    return refused ? undefined : `no bad_request error for ${text.slice(0, 200)}: ${JSON.stringify(reply)?.slice(0, 200)}`;
  }
  const frame = parsed.frame;
  if (frame.type !== "sessions" && frame.type !== "history") return `generated a ${frame.type} frame`;
  if (reply?.type !== frame.type || reply.id !== frame.id) return `no ${frame.type} reply to ${text.slice(0, 200)}: ${JSON.stringify(reply)?.slice(0, 200)}`;
  if (frame.type === "history") {
    const expected = seeded.includes(frame.session) ? 2 : 0;
    return (reply.messages as unknown[]).length === expected ? undefined : `history of ${frame.session}: ${JSON.stringify(reply).slice(0, 300)}`;
  }
  const limit = frame.limit ?? 50;
  const offset = frame.offset ?? 0;
  const shown = Math.max(0, Math.min(limit, seeded.length - offset));
  const next = offset + shown < seeded.length && shown > 0 ? offset + shown : null;
  const page = reply.sessions as unknown[];
  return reply.total === seeded.length && page.length === shown && reply.next_offset === next ? undefined : `page ${JSON.stringify(frame)} → ${JSON.stringify(reply).slice(0, 300)}`;
}

describe("hostile session frames", () => {
  it("answers each generated sessions/history frame with a right reply or a bad_request error, and stays up", async () => {
    const token = await seed();
    await fc.assert(
      fc.asyncProperty(fc.array(frameText, { minLength: 1, maxLength: 6 }), async (texts) => {
        const client = await WsTestClient.connect(node.wsUrl, { token });
        try {
          for (const text of texts) client.send(text);
          // Frames are handled in order: once the pong is in, every reply is too.
          client.send({ type: "ping" });
          await client.next((frame) => frame.type === "pong", 15_000);
          const context = `sent ${JSON.stringify(texts).slice(0, 600)}; got ${JSON.stringify(client.frames).slice(0, 600)}`;
          expect(client.frames.map(serverFrameProblem).filter(Boolean), context).toEqual([]);
          // Each frame gets exactly one frame back, in order (the pong last).
          expect(client.frames, context).toHaveLength(texts.length + 1);
          expect(texts.map((text, index) => replyProblem(text, client.frames[index])).filter(Boolean), context).toEqual([]);
        } finally {
          client.close();
        }
      }),
      { numRuns: 150, endOnFailure: true },
    );
    expect(await node.stillAliveAfter(0)).toBe(true);
    await expectWebsocketServed(node);
  });

  it("never shows one subject another's sessions, whatever the frame asks", async () => {
    await seed();
    const stranger = await WsTestClient.connect(node.wsUrl, { token: await node.token("stranger") });
    try {
      await fc.assert(
        fc.asyncProperty(sessionFrameArbitrary(fc.constant("x")), async (frame) => {
          const text = JSON.stringify(frame);
          const parsed = parseClientFrame(text);
          stranger.send(text);
          stranger.send({ type: "ping" });
          await stranger.next((received) => received.type === "pong", 15_000);
          const reply = stranger.frames.at(-2);
          if ("error" in parsed) return void expect(reply).toMatchObject({ type: "error", code: "bad_request" });
          if (frame.type === "sessions") expect(reply).toMatchObject({ type: "sessions", sessions: [], total: 0 });
          else expect(reply).toMatchObject({ type: "history", messages: [] });
        }),
        { numRuns: 60 },
      );
    } finally {
      stranger.close();
    }
  });
});
