// Conversation history per (owner, session id), persisted in SQLite.
import type { ChatMessage } from "../core/types.js";
import type { SqliteDatabase } from "./database.js";

export type TurnRole = "user" | "assistant";

export class SessionRepository {
  private readonly selectTurns;
  private readonly insertTurn;
  private readonly deleteTurns;

  constructor(database: SqliteDatabase) {
    this.selectTurns = database.prepare<[string, string], { role: TurnRole; content: string }>(
      "SELECT role, content FROM session_turns WHERE owner = ? AND session = ? ORDER BY position",
    );
    this.insertTurn = database.prepare<[string, string, string, string, string, string, number]>(
      `INSERT INTO session_turns (owner, session, position, role, content, created_at)
       VALUES (?, ?, (SELECT COALESCE(MAX(position), -1) + 1 FROM session_turns WHERE owner = ? AND session = ?), ?, ?, ?)`,
    );
    this.deleteTurns = database.prepare<[string, string]>("DELETE FROM session_turns WHERE owner = ? AND session = ?");
    this.appendExchange = database.transaction((owner: string, session: string, user: string, assistant: string) => {
      const now = Date.now();
      this.insertTurn.run(owner, session, owner, session, "user", user, now);
      this.insertTurn.run(owner, session, owner, session, "assistant", assistant, now);
    });
  }

  /** The stored turns, oldest first. */
  history(owner: string, session: string): ChatMessage[] {
    return this.selectTurns.all(owner, session);
  }

  /** Stores a question and its answer together, so a history never holds half an exchange. */
  readonly appendExchange: (owner: string, session: string, user: string, assistant: string) => void;

  clear(owner: string, session: string): void {
    this.deleteTurns.run(owner, session);
  }
}
