// What a client may read of its own sessions (the `sessions` and `history` frames): its session list and one session's messages.
import type { ChatMessage } from "../core/types.js";
import type { SessionPage } from "./session-listing.js";

export interface SessionReader {
  /** The owner's sessions, newest activity first. */
  list(owner: string, page: { limit: number; offset: number }): SessionPage;
  /** Every stored message of one of the owner's sessions, oldest first (empty when there is none by that name). */
  history(owner: string, session: string): ChatMessage[];
}
