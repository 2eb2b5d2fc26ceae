// Pages through the stored sessions (admin API, and a client's own list): owner, session name, last activity and turns, newest first.
import type { SqliteDatabase } from "./database.js";
import { sessionTitle, titleSourceLength } from "./session-title.js";
import { storageError } from "./storage-error.js";

export interface SessionPageRequest {
  /** Sessions per page (1–500). */
  limit: number;
  /** Sessions skipped (the previous page's `next_offset`). */
  offset: number;
  /** Only this owner's sessions. */
  owner?: string;
  /**
   * Each session's `title` too (its first question): for the owner's own list only. The admin API never lists texts,
   * so it leaves this unset.
   */
  titles?: boolean;
}

export interface SessionSummary {
  owner: string;
  session: string;
  /** ISO 8601 UTC time of the newest stored message. */
  last_activity: string;
  /** Questions stored (each with its answer). */
  turns: number;
  /** Stored messages (with the agent loop's tool calls and results between a question and its answer). */
  messages: number;
  /** With `titles`: the first stored question, whitespace collapsed, at most 80 characters (session-title.ts). */
  title?: string;
}

export interface SessionPage {
  sessions: SessionSummary[];
  /** Sessions in all (with the owner filter). */
  total: number;
  /** The offset of the next page, or null on the last one. */
  next_offset: number | null;
}

interface SessionRow {
  owner: string;
  session: string;
  last_activity: number;
  turns: number;
  messages: number;
}

export function listSessions(database: SqliteDatabase, request: SessionPageRequest): SessionPage {
  const where = request.owner === undefined ? "" : "WHERE owner = @owner";
  const parameters = { owner: request.owner, limit: request.limit, offset: request.offset };
  try {
    const rows = database
      .prepare(
        `SELECT owner, session, MAX(created_at) AS last_activity, SUM(role = 'user') AS turns, COUNT(*) AS messages
         FROM session_turns ${where} GROUP BY owner, session ORDER BY last_activity DESC, owner, session LIMIT @limit OFFSET @offset`,
      )
      .all(request.owner === undefined ? { limit: parameters.limit, offset: parameters.offset } : parameters) as SessionRow[];
    const { total } = database
      .prepare(`SELECT COUNT(*) AS total FROM (SELECT 1 FROM session_turns ${where} GROUP BY owner, session)`)
      .get(request.owner === undefined ? {} : { owner: request.owner }) as { total: number };
    const firstQuestion = request.titles
      ? database.prepare<[string, string], { text: string }>(
          // Only the start is read (a question can be megabytes); leading whitespace first, so it cannot crowd out the text.
          `SELECT substr(ltrim(content, ' ' || char(9, 10, 11, 12, 13)), 1, ${titleSourceLength}) AS text
           FROM session_turns WHERE owner = ? AND session = ? AND role = 'user' ORDER BY position LIMIT 1`,
        )
      : undefined;
    const sessions = rows.map((row) => ({
      ...row,
      last_activity: new Date(row.last_activity).toISOString(),
      ...(firstQuestion ? { title: sessionTitle(firstQuestion.get(row.owner, row.session)?.text) } : {}),
    }));
    const next = request.offset + sessions.length;
    return { sessions, total, next_offset: next < total && sessions.length > 0 ? next : null };
  } catch (error) {
    throw storageError("Listing the sessions", error);
  }
}
