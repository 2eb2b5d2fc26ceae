// The session repository: reads only the tail of a long history, keeps token counts, caps sessions, expires old ones, reports a full disk.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import Database from "better-sqlite3";
import { describe, expect, it } from "vitest";
import type { ChatMessage } from "../core/types.js";
import { ClawError } from "../core/errors.js";
import { openDatabase, openMemoryDatabase } from "./database.js";
import { SessionRepository } from "./session-repository.js";

const words = (message: ChatMessage) => message.content.split(" ").length;

function counter() {
  const counted: string[] = [];
  return { counted, count: (message: ChatMessage) => (counted.push(message.content), words(message)) };
}

describe("SessionRepository", () => {
  it("reads only the newest messages that can fit, and counts each stored message once", () => {
    const sessions = new SessionRepository(openMemoryDatabase());
    for (let turn = 0; turn < 50; turn += 1) sessions.appendExchange("alice", "s", `question ${turn}`, `answer number ${turn}`);
    // Stored without counts (like rows from before the migration): counted when first read, and stored.
    const first = counter();
    const tail = sessions.recentHistory("alice", "s", { maxTokens: 20, countedBy: "words", count: first.count });
    // 2 + 3 tokens per exchange: the newest messages until their sum passes 20.
    expect(tail.messages.map((message) => message.content)).toEqual([
      "question 45", "answer number 45", "question 46", "answer number 46", "question 47", "answer number 47",
      "question 48", "answer number 48", "question 49", "answer number 49",
    ].slice(-tail.messages.length));
    expect(tail.tokens.reduce((sum, count) => sum + count, 0)).toBeGreaterThan(20);
    expect(tail.tokens.slice(1).reduce((sum, count) => sum + count, 0)).toBeLessThanOrEqual(20);
    expect(tail.tokens).toEqual(tail.messages.map(words));
    expect(tail.firstPosition).toBe(100 - tail.messages.length);
    expect(first.counted).toHaveLength(tail.messages.length);
    // The counts were stored: reading again counts nothing.
    const second = counter();
    expect(sessions.recentHistory("alice", "s", { maxTokens: 20, countedBy: "words", count: second.count })).toEqual(tail);
    expect(second.counted).toEqual([]);
    // Another tokenizer counts again.
    const other = counter();
    sessions.recentHistory("alice", "s", { maxTokens: 20, countedBy: "other", count: other.count });
    expect(other.counted).toHaveLength(tail.messages.length);
  });

  it("stores the counts given with an exchange, and returns every message when all fit", () => {
    const sessions = new SessionRepository(openMemoryDatabase());
    sessions.appendExchange("alice", "s", "a b c", "d e", { user: 30, assistant: 20, countedBy: "model" });
    const { counted, count } = counter();
    const tail = sessions.recentHistory("alice", "s", { maxTokens: 1000, countedBy: "model", count });
    expect(tail).toEqual({ messages: [{ role: "user", content: "a b c" }, { role: "assistant", content: "d e" }], tokens: [30, 20], firstPosition: 0 });
    expect(counted).toEqual([]);
  });

  it("keeps at most max_turns messages per session, deleting the oldest exchanges with the append", () => {
    const sessions = new SessionRepository(openMemoryDatabase(), { maxMessages: 5 });
    for (let turn = 0; turn < 6; turn += 1) sessions.appendExchange("alice", "s", `q${turn}`, `a${turn}`);
    sessions.appendExchange("bob", "s", "q", "a");
    // 5 rounds down to whole exchanges: 4 messages, starting with a question.
    expect(sessions.history("alice", "s").map((message) => message.content)).toEqual(["q4", "a4", "q5", "a5"]);
    expect(sessions.history("bob", "s")).toHaveLength(2);
    const tail = sessions.recentHistory("alice", "s", { maxTokens: 100, countedBy: "words", count: words });
    expect(tail.firstPosition).toBe(8);
  });

  it("deletes sessions whose last message is older than the retention period", async () => {
    let now = 1_000_000;
    const day = 24 * 60 * 60 * 1000;
    const sessions = new SessionRepository(openMemoryDatabase(), { retentionMs: 10 * day }, undefined, () => now);
    sessions.appendExchange("alice", "old", "q", "a");
    sessions.appendExchange("alice", "active", "q", "a");
    // More expired sessions than one delete batch takes.
    for (let index = 0; index < 450; index += 1) sessions.appendExchange(`user-${index}`, "old", "q", "a");
    now += 9 * day;
    sessions.appendExchange("alice", "active", "q2", "a2");
    now += 2 * day;
    expect(await sessions.deleteExpired()).toBe(2 + 450 * 2);
    expect(sessions.history("alice", "old")).toEqual([]);
    expect(sessions.history("user-7", "old")).toEqual([]);
    expect(sessions.history("alice", "active")).toHaveLength(4);
    // Retention 0 keeps sessions forever.
    const forever = new SessionRepository(openMemoryDatabase(), { retentionMs: 0 }, undefined, () => now);
    forever.appendExchange("alice", "s", "q", "a");
    now += 1000 * day;
    expect(await forever.deleteExpired()).toBe(0);
    expect(forever.history("alice", "s")).toHaveLength(2);
  });

  it("fails with a storage_error saying the disk is full, marks the store unhealthy, and recovers", () => {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "clawbot-full-"));
    const database = openDatabase(dataDir);
    const sessions = new SessionRepository(database);
    sessions.appendExchange("alice", "s", "q", "a");
    // A real full database: no page may be added beyond the ones it has.
    database.pragma(`max_page_count = ${database.pragma("page_count", { simple: true }) as number}`);
    const large = "x".repeat(64 * 1024);
    let failure: unknown;
    try {
      sessions.appendExchange("alice", "s", large, large);
    } catch (error) {
      failure = error;
    }
    expect(failure).toBeInstanceOf(ClawError);
    expect((failure as ClawError).code).toBe("storage_error");
    expect((failure as ClawError).message).toBe("Storing the exchange failed: the disk or the database is full.");
    expect(sessions.health.healthy).toBe(false);
    // Half an exchange is never stored.
    expect(sessions.history("alice", "s")).toHaveLength(2);
    database.pragma("max_page_count = 1073741823");
    sessions.appendExchange("alice", "s", large, large);
    expect(sessions.health.healthy).toBe(true);
    database.close();
  });

  it("gives up on a database another process holds locked with a storage_error, instead of blocking the event loop for seconds", () => {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "clawbot-busy-"));
    const database = openDatabase(dataDir);
    const sessions = new SessionRepository(database);
    // Another connection (a backup tool, a second node) holds the write lock.
    const other = new Database(path.join(dataDir, "clawbot.db"));
    other.exec("BEGIN IMMEDIATE");
    expect(() => sessions.appendExchange("alice", "s", "q", "a")).toThrow(
      new ClawError("storage_error", "Storing the exchange failed: the database is locked by another process or connection."),
    );
    other.exec("ROLLBACK");
    other.close();
    sessions.appendExchange("alice", "s", "q", "a");
    expect(sessions.history("alice", "s")).toHaveLength(2);
    database.close();
  });
});

