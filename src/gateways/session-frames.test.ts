// The `sessions` and `history` frames: parsing (WebSocket and MQTT), the replies, tool steps left out, and the coded errors.
import { describe, expect, it } from "vitest";
import { ClawError } from "../core/errors.js";
import type { ChatMessage } from "../core/types.js";
import type { SessionReader } from "../store/session-reader.js";
import { FrameSession } from "./frame-session.js";
import { parseClientFrame, parseTransportFrame, type SessionReadFrame } from "./frames.js";
import { answerSessionFrame, questionsAndAnswers } from "./session-frames.js";
import type { Pipeline } from "../pipeline/pipeline.js";

const parse = (frame: unknown) => parseClientFrame(JSON.stringify(frame));

describe("parsing the session frames", () => {
  it("accepts sessions with or without limit and offset, and history with a session", () => {
    for (const frame of [
      { type: "sessions", id: "l1" },
      { type: "sessions", id: "l1", limit: 1, offset: 0 },
      { type: "sessions", id: "l1", limit: 200, offset: Number.MAX_SAFE_INTEGER },
      { type: "history", id: "h1", session: "s".repeat(256) },
    ]) {
      expect(parse(frame)).toEqual({ frame });
    }
  });

  it("refuses bad limits, offsets, sessions and unknown keys as bad_request with the id and the field", () => {
    const cases: [unknown, string][] = [
      [{ type: "sessions", id: "l", limit: 0 }, "limit"],
      [{ type: "sessions", id: "l", limit: 201 }, "limit"],
      [{ type: "sessions", id: "l", limit: 1.5 }, "limit"],
      [{ type: "sessions", id: "l", limit: "10" }, "limit"],
      [{ type: "sessions", id: "l", offset: -1 }, "offset"],
      [{ type: "sessions", id: "l", offset: 1e300 }, "offset"],
      [{ type: "sessions", id: "l", owner: "bob" }, ""],
      [{ type: "history", id: "l" }, "session"],
      [{ type: "history", id: "l", session: "" }, "session"],
      [{ type: "history", id: "l", session: "s".repeat(257) }, "session"],
      [{ type: "history", id: "l", session: 7 }, "session"],
    ];
    for (const [frame, param] of cases) {
      const parsed = parse(frame);
      expect(parsed, JSON.stringify(frame)).toMatchObject({ id: "l", error: { code: "bad_request" } });
      if (param) expect(parsed, JSON.stringify(frame)).toMatchObject({ error: { param } });
    }
    expect(parse({ type: "sessions", id: "" })).toMatchObject({ id: "", error: { code: "bad_request", param: "id" } });
  });

  it("takes them over MQTT with the message's token", () => {
    const parsed = parseTransportFrame(JSON.stringify({ type: "history", id: "h", session: "s1", token: "t" }));
    expect(parsed).toEqual({ frame: { type: "history", id: "h", session: "s1" }, token: "t", stream: true });
  });
});

const toolTurn = (content: string): ChatMessage => ({ role: "assistant", content, toolCalls: [{ id: "call_1", name: "free_beds", arguments: "{}" }] });
const toolResult: ChatMessage = { role: "tool", content: '{"free":3}', toolCallId: "call_1", name: "free_beds" };

describe("questionsAndAnswers", () => {
  it("keeps each question and the answer that ended its exchange, without the tool steps between them", () => {
    const stored: ChatMessage[] = [
      { role: "user", content: "q1" },
      toolTurn("let me look"),
      toolResult,
      { role: "assistant", content: "a1" },
      { role: "user", content: "q2" },
      { role: "assistant", content: "a2" },
    ];
    expect(questionsAndAnswers(stored)).toEqual([
      { role: "user", content: "q1" },
      { role: "assistant", content: "a1" },
      { role: "user", content: "q2" },
      { role: "assistant", content: "a2" },
    ]);
  });

  it("shows no answer for an exchange that ended on a tool step", () => {
    expect(questionsAndAnswers([{ role: "user", content: "q" }, toolTurn(""), toolResult])).toEqual([{ role: "user", content: "q" }]);
  });
});

function reader(overrides: Partial<SessionReader> = {}): SessionReader {
  return {
    list: (_owner, page) => ({
      sessions: [{ owner: "alice", session: "s1", title: "first", last_activity: "2025-01-01T00:00:00.000Z", turns: 2, messages: 4 }],
      total: 3,
      next_offset: page.offset + 1,
    }),
    history: () => [{ role: "user", content: "q" }, { role: "assistant", content: "a" }],
    ...overrides,
  };
}

describe("answerSessionFrame", () => {
  const sessions: SessionReadFrame = { type: "sessions", id: "l1" };

  it("answers sessions with the page, without the owner or message count, asking for 50 from 0 by default", () => {
    const asked: unknown[] = [];
    const answer = answerSessionFrame(sessions, "alice", reader({ list: (owner, page) => (asked.push([owner, page]), reader().list(owner, page)) }));
    expect(asked).toEqual([["alice", { limit: 50, offset: 0 }]]);
    expect(answer).toEqual({
      type: "sessions",
      id: "l1",
      sessions: [{ session: "s1", title: "first", last_activity: "2025-01-01T00:00:00.000Z", turns: 2 }],
      total: 3,
      next_offset: 1,
    });
  });

  it("answers history with the session's messages", () => {
    expect(answerSessionFrame({ type: "history", id: "h", session: "s1" }, "alice", reader())).toEqual({
      type: "history",
      id: "h",
      session: "s1",
      messages: [{ role: "user", content: "q" }, { role: "assistant", content: "a" }],
    });
  });

  it("is not_found without a reader, and the store's storage_error when reading fails", () => {
    expect(answerSessionFrame(sessions, "alice", undefined)).toMatchObject({ type: "error", id: "l1", code: "not_found" });
    const failing = reader({ history: () => { throw new ClawError("storage_error", "Reading the session history failed: disk I/O error"); } });
    expect(answerSessionFrame({ type: "history", id: "h", session: "s" }, "alice", failing)).toMatchObject({ type: "error", id: "h", code: "storage_error" });
    const broken = reader({ list: () => { throw new TypeError("boom"); } });
    expect(answerSessionFrame(sessions, "alice", broken)).toMatchObject({ type: "error", id: "l1", code: "internal" });
  });
});

describe("FrameSession with session frames", () => {
  const pipeline = {} as Pipeline;

  it("reads the principal's own sessions, not the frame owner's, and refuses a caller without a principal", async () => {
    const sent: Record<string, unknown>[] = [];
    const owners: string[] = [];
    const session = new FrameSession({ pipeline, gateway: "test", send: (frame) => void sent.push(frame), sessions: reader({ history: (owner) => (owners.push(owner), []) }) });
    await session.receive({ type: "history", id: "h", session: "s" }, { subject: "alice", roles: [], scopes: [], claims: {} }, { owner: "client-segment" });
    await session.receive({ type: "sessions", id: "l" }, undefined);
    expect(owners).toEqual(["alice"]);
    expect(sent).toEqual([
      { type: "history", id: "h", session: "s", messages: [] },
      expect.objectContaining({ type: "error", id: "l", code: "unauthorized" }),
    ]);
  });
});
