// The migration that lets the history hold tool steps: a database at the schema before it keeps every row, and takes tool rows after.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import Database from "better-sqlite3";
import { afterEach, describe, expect, it } from "vitest";
import { openDatabase } from "./database.js";
import { currentSchemaVersion } from "./database-summary.js";
import { SessionRepository } from "./session-repository.js";

/** The schema version before the tool-steps migration. */
const previousVersion = 7;

const directories: string[] = [];
afterEach(() => {
  for (const directory of directories.splice(0)) fs.rmSync(directory, { recursive: true, force: true });
});

/**
 * A data directory whose database is at schema 7: session_turns exactly as migrations 1 and 3 left it (the role CHECK
 * of two roles, the primary key, WITHOUT ROWID, the token count columns), with rows of two sessions.
 */
function previousDataDir(extraSql = ""): string {
  const directory = fs.mkdtempSync(path.join(os.tmpdir(), "clawbot-turns-migration-"));
  directories.push(directory);
  const old = new Database(path.join(directory, "clawbot.db"));
  old.exec(`CREATE TABLE session_turns (
              owner TEXT NOT NULL,
              session TEXT NOT NULL,
              position INTEGER NOT NULL,
              role TEXT NOT NULL CHECK (role IN ('user', 'assistant')),
              content TEXT NOT NULL,
              created_at INTEGER NOT NULL,
              PRIMARY KEY (owner, session, position)
            ) WITHOUT ROWID;
            ALTER TABLE session_turns ADD COLUMN token_count INTEGER NULL;
            ALTER TABLE session_turns ADD COLUMN counted_by TEXT NULL;
            ${extraSql}
            PRAGMA user_version = ${previousVersion};`);
  const insert = old.prepare("INSERT INTO session_turns VALUES (?, ?, ?, ?, ?, ?, ?, ?)");
  insert.run("alice", "s", 0, "user", "first question", 1000, 2, "echo:echo");
  insert.run("alice", "s", 1, "assistant", "first answer", 1000, 2, "echo:echo");
  insert.run("alice", "s", 2, "user", "second question", 2000, null, null);
  insert.run("alice", "s", 3, "assistant", "second answer", 2000, null, null);
  insert.run("bob", "t", 0, "user", "bob's question", 3000, 3, "llama:model");
  insert.run("bob", "t", 1, "assistant", "bob's answer", 3000, 2, "llama:model");
  old.close();
  return directory;
}

const allRows = "SELECT owner, session, position, role, content, created_at, token_count, counted_by FROM session_turns ORDER BY owner, session, position";

describe("the session_turns migration to tool steps", () => {
  it("keeps every row, the primary key and WITHOUT ROWID, and takes tool rows and calls afterwards", () => {
    const directory = previousDataDir();
    const before = new Database(path.join(directory, "clawbot.db"));
    const rows = before.prepare(allRows).all();
    before.close();
    expect(rows).toHaveLength(6);

    const database = openDatabase(directory);
    try {
      expect(database.pragma("user_version", { simple: true })).toBe(currentSchemaVersion());
      expect(currentSchemaVersion()).toBeGreaterThan(previousVersion);
      expect(database.prepare(allRows).all()).toEqual(rows);
      // The new columns are empty on old rows.
      expect(database.prepare("SELECT COUNT(*) AS n FROM session_turns WHERE tool_calls IS NOT NULL OR tool_call_id IS NOT NULL OR tool_name IS NOT NULL").get()).toEqual({ n: 0 });
      const schema = (database.prepare("SELECT sql FROM sqlite_master WHERE name = 'session_turns'").get() as { sql: string }).sql;
      expect(schema).toContain("CHECK (role IN ('user', 'assistant', 'tool'))");
      expect(schema).toContain("PRIMARY KEY (owner, session, position)");
      expect(schema).toContain("WITHOUT ROWID");
      // Only the table (its primary key is the table itself in a WITHOUT ROWID table): no copy left behind.
      expect(database.prepare("SELECT type, name FROM sqlite_master WHERE tbl_name LIKE 'session_turns%'").all()).toEqual([{ type: "table", name: "session_turns" }]);
      expect(database.pragma("quick_check", { simple: true })).toBe("ok");

      const insert = database.prepare(
        "INSERT INTO session_turns (owner, session, position, role, content, created_at, tool_calls, tool_call_id, tool_name) VALUES ('alice', 's', ?, ?, ?, 5, ?, ?, ?)",
      );
      // The old CHECK is gone: a tool result is accepted, and so is an assistant turn with calls.
      insert.run(4, "assistant", "", JSON.stringify([{ id: "call_1", name: "weather", arguments: "{}" }]), null, null);
      insert.run(5, "tool", "sunny", null, "call_1", "weather");
      // Still refused: another role, a tool row without its call, calls that are not JSON or not an assistant's, a position taken.
      expect(() => insert.run(6, "system", "x", null, null, null)).toThrow(/CHECK constraint failed/);
      expect(() => insert.run(6, "tool", "x", null, null, "weather")).toThrow(/CHECK constraint failed/);
      expect(() => insert.run(6, "user", "x", null, "call_1", null)).toThrow(/CHECK constraint failed/);
      expect(() => insert.run(6, "assistant", "", "not json", null, null)).toThrow(/CHECK constraint failed/);
      expect(() => insert.run(6, "user", "", "[]", null, null)).toThrow(/CHECK constraint failed/);
      expect(() => insert.run(5, "user", "again", null, null, null)).toThrow(/UNIQUE constraint failed|PRIMARY KEY/);

      // The repository reads old and new rows alike.
      const sessions = new SessionRepository(database);
      expect(sessions.history("alice", "s").slice(-3)).toEqual([
        { role: "assistant", content: "second answer" },
        { role: "assistant", content: "", toolCalls: [{ id: "call_1", name: "weather", arguments: "{}" }] },
        { role: "tool", content: "sunny", toolCallId: "call_1", name: "weather" },
      ]);
    } finally {
      database.close();
    }
  });

  it("runs in one transaction: when it fails, the database stays at schema 7 with its rows", () => {
    // A row the old CHECK let in only because checks were off: the copy into the new table fails after it was created.
    const directory = previousDataDir(`PRAGMA ignore_check_constraints = ON;
      INSERT INTO session_turns VALUES ('carol', 'x', 0, 'system', 'smuggled', 1, NULL, NULL);`);
    expect(() => openDatabase(directory)).toThrow(/CHECK constraint failed/);
    const database = new Database(path.join(directory, "clawbot.db"));
    try {
      expect(database.pragma("user_version", { simple: true })).toBe(previousVersion);
      expect(database.prepare("SELECT COUNT(*) AS n FROM session_turns").get()).toEqual({ n: 7 });
      expect(database.prepare("SELECT name FROM sqlite_master WHERE name = 'session_turns_with_tools'").get()).toBeUndefined();
      expect((database.prepare("SELECT sql FROM sqlite_master WHERE name = 'session_turns'").get() as { sql: string }).sql).toContain("CHECK (role IN ('user', 'assistant'))");
    } finally {
      database.close();
    }
  });
});
