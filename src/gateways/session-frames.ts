// Answers the `sessions` and `history` frames: the caller's own session list and one session's questions and answers.
import { ClawError, toClawError } from "../core/errors.js";
import type { ChatMessage } from "../core/types.js";
import type { SessionPage } from "../store/session-listing.js";
import type { SessionReader } from "../store/session-reader.js";
import { errorFrame, type SessionReadFrame } from "./frames.js";

/** Sessions per page when the frame gives no `limit`. */
export const defaultSessionsLimit = 50;

/**
 * The reply to a `sessions` or `history` frame of `owner` (the verified subject, under which the pipeline stores the
 * sessions): the reply frame, or an error frame with the frame's id — `not_found` when this gateway has no reader (it
 * was built outside the daemon), `storage_error` when the database fails. Never throws.
 */
export function answerSessionFrame(frame: SessionReadFrame, owner: string, reader: SessionReader | undefined): Record<string, unknown> {
  if (!reader) return errorFrame(frame.id, new ClawError("not_found", "This gateway cannot read stored sessions."));
  try {
    if (frame.type === "sessions") {
      return sessionsFrame(frame.id, reader.list(owner, { limit: frame.limit ?? defaultSessionsLimit, offset: frame.offset ?? 0 }));
    }
    return historyFrame(frame.id, frame.session, reader.history(owner, frame.session));
  } catch (error) {
    return errorFrame(frame.id, toClawError(error));
  }
}

/** The `sessions` reply: the page's sessions with their title, last activity and turns (never the owner: it is the caller). */
export function sessionsFrame(id: string, page: SessionPage): Record<string, unknown> {
  return {
    type: "sessions",
    id,
    sessions: page.sessions.map((summary) => ({ session: summary.session, title: summary.title ?? "", last_activity: summary.last_activity, turns: summary.turns })),
    total: page.total,
    next_offset: page.next_offset,
  };
}

/** The `history` reply: the session's questions and answers, oldest first. */
export function historyFrame(id: string, session: string, messages: readonly ChatMessage[]): Record<string, unknown> {
  return { type: "history", id, session, messages: questionsAndAnswers(messages) };
}

/**
 * A stored history as a client shows it: each question and the answer that ended its exchange (the last message before
 * the next question). The agent loop's steps between them — assistant turns with tool calls, tool results — are left out.
 */
export function questionsAndAnswers(messages: readonly ChatMessage[]): { role: "user" | "assistant"; content: string }[] {
  const shown: { role: "user" | "assistant"; content: string }[] = [];
  messages.forEach((message, index) => {
    if (message.role === "user") return void shown.push({ role: "user", content: message.content });
    const endsExchange = index === messages.length - 1 || messages[index + 1]?.role === "user";
    const isAnswer = message.role === "assistant" && !(message.toolCalls && message.toolCalls.length > 0);
    if (endsExchange && isAnswer) shown.push({ role: "assistant", content: message.content });
  });
  return shown;
}
