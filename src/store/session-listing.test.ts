// Listing stored sessions: titles (the first question) only when asked for, read from the question's start, per owner.
import { describe, expect, it } from "vitest";
import { openMemoryDatabase } from "./database.js";
import { listSessions } from "./session-listing.js";
import { SessionRepository } from "./session-repository.js";

describe("listSessions titles", () => {
  it("gives each session its first question as title when asked for (the owner's list), never to the admin listing", () => {
    const database = openMemoryDatabase();
    const sessions = new SessionRepository(database);
    sessions.appendExchange("alice", "s1", "  How many\nbeds are free?", "three");
    sessions.appendExchange("alice", "s1", "and tomorrow?", "two");
    sessions.appendExchange("bob", "s1", "bob's secret question", "answer");
    const own = listSessions(database, { limit: 10, offset: 0, owner: "alice", titles: true });
    expect(own.sessions).toEqual([expect.objectContaining({ session: "s1", title: "How many beds are free?", turns: 2 })]);
    const admin = listSessions(database, { limit: 10, offset: 0 });
    expect(admin.sessions.map((summary) => summary.title)).toEqual([undefined, undefined]);
  });

  it("finds the text of a question after thousands of leading blanks, and cuts a huge one to 80 characters", () => {
    const database = openMemoryDatabase();
    const sessions = new SessionRepository(database);
    sessions.appendExchange("alice", "blank", `${" \n\t".repeat(5000)}where is ward 3`, "a");
    sessions.appendExchange("alice", "huge", "世".repeat(1_000_000), "a");
    const titles = Object.fromEntries(listSessions(database, { limit: 10, offset: 0, owner: "alice", titles: true }).sessions.map((summary) => [summary.session, summary.title]));
    expect(titles).toEqual({ blank: "where is ward 3", huge: "世".repeat(80) });
  });
});
