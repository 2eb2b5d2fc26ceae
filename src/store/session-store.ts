// What the pipeline needs of a session store: the SQLite SessionRepository, or in a cluster the replicated one over it.
import type { ChatMessage } from "../core/types.js";
import type { ExchangeTokens, HistoryTail, TailOptions } from "./session-repository.js";

/** Another store a subject's erasure must reach (the shape of the daemon's SubjectDataEraser): runs inside the erasure's transaction. */
export interface SessionEraser {
  kind: string;
  erase(subject: string): number;
}

export interface SessionStore {
  /** Every stored message, oldest first, tool steps included. */
  history(owner: string, session: string): ChatMessage[];
  /** The newest messages that can fit in a prompt, with their token counts (see SessionRepository). */
  recentHistory(owner: string, session: string, options: TailOptions): HistoryTail;
  /** Stores a question, its tool steps and the answer together; throws a `storage_error` when it fails. */
  appendExchange(owner: string, session: string, user: string, assistant: string, tokens?: ExchangeTokens, steps?: readonly ChatMessage[]): void;
  clear(owner: string, session: string): void;
  /** In a cluster: what a subject's erasure must also do (tell the other nodes); undefined on a node alone. */
  readonly eraser?: SessionEraser;
}
