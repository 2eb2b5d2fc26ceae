// Sessions: history is kept per principal and session id, survives a restart, and is trimmed oldest-first to fit.
import { describe, expect, it } from "vitest";
import { startTestNode } from "./helpers/test-node.js";
import { WsTestClient } from "./helpers/ws-test-client.js";

describe("sessions", () => {
  it("survive a restart of the node (real model)", async () => {
    const first = await startTestNode({ agent: { system_prompt: "A story." } });
    const client = await WsTestClient.connect(first.wsUrl, { token: await first.token() });
    const turn1 = await client.chat("t1", "Once upon a time", { max_tokens: 16 }, "story");
    expect(turn1.end.type).toBe("finish");
    client.close();
    await first.close();

    const second = await startTestNode({ dataDir: first.dataDir, agent: { system_prompt: "A story." } });
    const history = second.daemon.sessions.history("alice", "story");
    expect(history).toEqual([
      { role: "user", content: "Once upon a time" },
      { role: "assistant", content: turn1.end.text },
    ]);
    const again = await WsTestClient.connect(second.wsUrl, { token: await second.token() });
    const turn2 = await again.chat("t2", "The end.", { max_tokens: 8 }, "story");
    // The prompt of turn 2 holds the system prompt, turn 1 and its answer: more tokens than turn 2 alone.
    const turn2Alone = await again.chat("t2-alone", "The end.", { max_tokens: 8 });
    expect((turn2.end.usage as { prompt_tokens: number }).prompt_tokens).toBeGreaterThan(
      (turn2Alone.end.usage as { prompt_tokens: number }).prompt_tokens + 16,
    );
    again.close();
    await second.close();
  });

  it("are private to their owner, and the echo engine shows the exact prompt with history", async () => {
    const node = await startTestNode({ agent: { engine: "echo", system_prompt: "SYSTEM" } });
    const alice = await WsTestClient.connect(node.wsUrl, { token: await node.token("alice") });
    const bob = await WsTestClient.connect(node.wsUrl, { token: await node.token("bob") });
    await alice.chat("a1", "first question", {}, "shared-name");
    const second = await alice.chat("a2", "second question", {}, "shared-name");
    // The answer continues its question directly (as a base model writes it); other turns start a new line.
    expect(second.end.text).toBe(`SYSTEM\nfirst questionSYSTEM\nfirst question\nsecond question`);
    const bobs = await bob.chat("b1", "bob asks", {}, "shared-name");
    expect(bobs.end.text).toBe("SYSTEM\nbob asks");
    alice.close();
    bob.close();
    await node.close();
  });

  it("drop the oldest exchanges first when the history outgrows the context, keeping the system prompt", async () => {
    const node = await startTestNode({ agent: { engine: "echo", system_prompt: "SYSTEM", context_size: 64, max_tokens: 16 } });
    const client = await WsTestClient.connect(node.wsUrl, { token: await node.token() });
    for (let turn = 0; turn < 6; turn += 1) {
      const { end } = await client.chat(`turn-${turn}`, `question number ${turn} with some extra words`, { max_tokens: 1 }, "long");
      expect(end.type).toBe("finish");
    }
    const last = await client.chat("last", "final", { max_tokens: 64 }, "long");
    const text = String(last.end.text);
    expect(text.startsWith("SYSTEM\n")).toBe(true);
    expect(text.endsWith("final")).toBe(true);
    expect(text).not.toContain("question number 0");
    expect(text).toContain("question number 5");
    client.close();
    await node.close();
  });

  it("end with exactly one terminal frame, a storage_error, when the disk is full, and the store reports unhealthy", async () => {
    const node = await startTestNode({ agent: { engine: "echo" } });
    const client = await WsTestClient.connect(node.wsUrl, { token: await node.token() });
    expect((await client.chat("before", "stored fine", {}, "full")).end.type).toBe("finish");
    // A real full database: SQLite may not add a page beyond those it has (what a full disk looks like to it).
    const database = node.daemon.database;
    database.pragma(`max_page_count = ${database.pragma("page_count", { simple: true }) as number}`);
    const large = "x".repeat(100_000);
    const { end } = await client.chat("full", large, { max_tokens: 4 }, "full");
    expect(end).toMatchObject({ type: "error", id: "full", code: "storage_error", message: "Storing the exchange failed: the disk or the database is full." });
    // Nothing else ends that request: a later request on the same connection is answered, and no second terminal frame came.
    expect((await client.chat("after", "no session")).end.type).toBe("finish");
    const terminal = client.frames.filter((frame) => frame.id === "full" && (frame.type === "finish" || frame.type === "error"));
    expect(terminal).toHaveLength(1);
    expect(node.daemon.sessions.health.healthy).toBe(false);
    const degraded = await fetch(`${node.httpUrl}/readyz`);
    expect(degraded.status).toBe(503);
    expect(await degraded.json()).toMatchObject({ status: "degraded", store: { status: "degraded", reason: "the disk or the database is full" } });
    expect(node.daemon.sessions.history("alice", "full")).toHaveLength(2);
    // Space again: the next exchange is stored and the store is healthy.
    database.pragma("max_page_count = 1073741823");
    expect((await client.chat("again", "stored again", {}, "full")).end.type).toBe("finish");
    expect(node.daemon.sessions.health.healthy).toBe(true);
    const ready = await fetch(`${node.httpUrl}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toMatchObject({ status: "ready", store: { status: "ok" }, connections: { open: expect.any(Number) } });
    client.close();
    await node.close();
  });

  it("keep at most sessions.max_turns messages, and sessions past retention_days are deleted at start", async () => {
    const node = await startTestNode({ agent: { engine: "echo" }, sessions: { max_turns: 4 } });
    const client = await WsTestClient.connect(node.wsUrl, { token: await node.token() });
    for (let turn = 0; turn < 4; turn += 1) await client.chat(`t${turn}`, `question ${turn}`, { max_tokens: 2 }, "capped");
    await client.chat("old", "an old session", { max_tokens: 2 }, "old");
    const capped = node.daemon.sessions.history("alice", "capped");
    expect(capped.map((message) => message.role)).toEqual(["user", "assistant", "user", "assistant"]);
    expect(capped.filter((message) => message.role === "user").map((message) => message.content)).toEqual(["question 2", "question 3"]);
    // Age the "old" session by 40 days.
    node.daemon.database.prepare("UPDATE session_turns SET created_at = created_at - ? WHERE session = 'old'").run(40 * 24 * 60 * 60 * 1000);
    client.close();
    await node.close();
    const restarted = await startTestNode({ agent: { engine: "echo" }, dataDir: node.dataDir, sessions: { max_turns: 4, retention_days: 30 } });
    await expect.poll(() => restarted.daemon.sessions.history("alice", "old")).toEqual([]);
    expect(restarted.daemon.sessions.history("alice", "capped")).toHaveLength(4);
    await restarted.close();
  });
});
