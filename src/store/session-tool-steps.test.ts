// The session repository with the agent loop's tool steps: stored between question and answer, read back in order, trimmed by whole exchanges.
import { describe, expect, it } from "vitest";
import { ClawError } from "../core/errors.js";
import type { ChatMessage } from "../core/types.js";
import { openMemoryDatabase } from "./database.js";
import { deleteSubjectRows } from "./erasure.js";
import { SessionRepository } from "./session-repository.js";
import { listSessions } from "./session-listing.js";

const words = (message: ChatMessage) => Math.max(1, message.content.split(" ").filter(Boolean).length);

/** One exchange's steps: an assistant turn with two calls (some text before them) and the two results, in order. */
function steps(tag: string): ChatMessage[] {
  return [
    {
      role: "assistant",
      content: `let me look ${tag}`,
      toolCalls: [
        { id: `call_${tag}_1`, name: "weather", arguments: '{"city": "Beijing", "days": 1}' },
        { id: `call_${tag}_2`, name: "clock", arguments: "{}" },
      ],
    },
    { role: "tool", content: `sunny ${tag}`, toolCallId: `call_${tag}_1`, name: "weather" },
    { role: "tool", content: `noon ${tag}`, toolCallId: `call_${tag}_2`, name: "clock" },
  ];
}

describe("SessionRepository with tool steps", () => {
  it("stores the steps between the question and the answer, at consecutive positions, and reads them back with their fields", () => {
    const database = openMemoryDatabase();
    const sessions = new SessionRepository(database);
    sessions.appendExchange("alice", "s", "plain question", "plain answer");
    sessions.appendExchange("alice", "s", "what weather", "it is sunny at noon", { user: 2, assistant: 5, countedBy: "words" }, steps("a"));
    const expected: ChatMessage[] = [
      { role: "user", content: "plain question" },
      { role: "assistant", content: "plain answer" },
      { role: "user", content: "what weather" },
      ...steps("a"),
      { role: "assistant", content: "it is sunny at noon" },
    ];
    expect(sessions.history("alice", "s")).toStrictEqual(expected);
    expect(database.prepare("SELECT position, role, token_count, counted_by FROM session_turns WHERE owner = 'alice' ORDER BY position").all()).toEqual([
      { position: 0, role: "user", token_count: null, counted_by: null },
      { position: 1, role: "assistant", token_count: null, counted_by: null },
      { position: 2, role: "user", token_count: 2, counted_by: "words" },
      // Steps are counted when first read.
      { position: 3, role: "assistant", token_count: null, counted_by: null },
      { position: 4, role: "tool", token_count: null, counted_by: null },
      { position: 5, role: "tool", token_count: null, counted_by: null },
      { position: 6, role: "assistant", token_count: 5, counted_by: "words" },
    ]);
    const counted: ChatMessage[] = [];
    const tail = sessions.recentHistory("alice", "s", { maxTokens: 1000, countedBy: "words", count: (message) => (counted.push(message), words(message)) });
    expect(tail.messages).toStrictEqual(expected);
    expect(tail.firstPosition).toBe(0);
    expect(tail.tokens).toEqual(expected.map(words));
    // The count is given the whole message (the calls take room in a prompt too), and only those without a count.
    expect(counted).toStrictEqual([expected[5], expected[4], expected[3], expected[1], expected[0]]);
    expect(database.prepare("SELECT COUNT(*) AS n FROM session_turns WHERE token_count IS NULL").get()).toEqual({ n: 0 });
  });

  it("starts a tail at no tool step: a result without its call, or calls without their question, are left out", () => {
    const sessions = new SessionRepository(openMemoryDatabase());
    sessions.appendExchange("alice", "s", "q1", "a1");
    sessions.appendExchange("alice", "s", "q2", "a2", undefined, steps("b"));
    const tail = (maxTokens: number) => sessions.recentHistory("alice", "s", { maxTokens, countedBy: "words", count: words });
    // From the end: a2 (1), noon b (2: 3), sunny b (2: 5), let me look b (4: 9), q2 (1: 10), a1, q1.
    // Read up to "noon b": the tool result cannot start it.
    expect(tail(2).messages).toEqual([{ role: "assistant", content: "a2" }]);
    expect(tail(2).firstPosition).toBe(6);
    // Read up to the assistant's calls: neither they nor the results can start it.
    expect(tail(6).messages).toEqual([{ role: "assistant", content: "a2" }]);
    // Read up to the question: the whole exchange.
    expect(tail(9).messages.map((message) => message.role)).toEqual(["user", "assistant", "tool", "tool", "assistant"]);
    expect(tail(9).firstPosition).toBe(2);
    expect(tail(9).tokens).toEqual([1, 4, 2, 2, 1]);
  });

  it("trims whole exchanges: a capped history starts with a question, never inside the tool steps", () => {
    const sessions = new SessionRepository(openMemoryDatabase(), { maxMessages: 8 });
    for (let turn = 0; turn < 3; turn += 1) sessions.appendExchange("alice", "s", `q${turn}`, `a${turn}`, undefined, steps(String(turn)));
    // 5 messages an exchange: the newest 8 hold q2's exchange and the end of q1's, which goes whole.
    const history = sessions.history("alice", "s");
    expect(history.map((message) => message.content)).toEqual(["q2", "let me look 2", "sunny 2", "noon 2", "a2"]);
    sessions.appendExchange("alice", "s", "q3", "a3");
    expect(sessions.history("alice", "s").map((message) => message.content)).toEqual(["q2", "let me look 2", "sunny 2", "noon 2", "a2", "q3", "a3"]);
    sessions.appendExchange("alice", "s", "q4", "a4");
    expect(sessions.history("alice", "s").map((message) => message.content)).toEqual(["q3", "a3", "q4", "a4"]);
  });

  it("keeps the question and the answer but not the steps when the steps alone would take the whole cap", () => {
    const sessions = new SessionRepository(openMemoryDatabase(), { maxMessages: 4 });
    sessions.appendExchange("alice", "s", "q0", "a0");
    sessions.appendExchange("alice", "s", "q1", "a1", undefined, steps("x"));
    expect(sessions.history("alice", "s")).toEqual([
      { role: "user", content: "q0" },
      { role: "assistant", content: "a0" },
      { role: "user", content: "q1" },
      { role: "assistant", content: "a1" },
    ]);
  });

  it("refuses a step that is neither an assistant turn nor a tool result with its call, storing nothing", () => {
    const sessions = new SessionRepository(openMemoryDatabase());
    for (const step of [{ role: "user", content: "sneaky" }, { role: "tool", content: "no call id", name: "weather" }] as ChatMessage[]) {
      expect(() => sessions.appendExchange("alice", "s", "q", "a", undefined, [step])).toThrow(ClawError);
    }
    expect(sessions.history("alice", "s")).toEqual([]);
  });

  it("lists questions as turns and every stored message, and erases tool steps with the rest of a subject's rows", () => {
    const database = openMemoryDatabase();
    const sessions = new SessionRepository(database);
    sessions.appendExchange("alice", "s", "q0", "a0", undefined, steps("0"));
    sessions.appendExchange("alice", "s", "q1", "a1");
    sessions.appendExchange("bob", "t", "q", "a", undefined, steps("b"));
    const page = listSessions(database, { limit: 10, offset: 0, owner: "alice" });
    expect(page.sessions).toEqual([expect.objectContaining({ owner: "alice", session: "s", turns: 2, messages: 7 })]);
    expect(deleteSubjectRows(database, "alice")).toEqual({ sessions: 1, messages: 7, mqtt_requests: 0 });
    expect(sessions.history("alice", "s")).toEqual([]);
    expect(sessions.history("bob", "t")).toHaveLength(5);
  });
});
