// Conversation history per (owner, session id), persisted in SQLite with each message's token count, bounded in length and age.
import type { ChatMessage } from "../core/types.js";
import type { SqliteDatabase } from "./database.js";
import { storageError } from "./storage-error.js";
import { StoreHealth } from "./store-health.js";

export type TurnRole = "user" | "assistant";

export interface SessionLimits {
  /** Stored messages per session; the oldest are deleted beyond it (rounded down to whole exchanges). */
  maxMessages: number;
  /** Milliseconds a session is kept after its last message; 0 keeps sessions forever. */
  retentionMs: number;
}

/** How the tail of a history is counted: who counts (engine and model), how, and how many tokens can be used. */
export interface TailOptions {
  /** Tokens the kept history can take at most; older messages are not read once the tail holds more. */
  maxTokens: number;
  /** Identifies the tokenizer (engine and model): stored counts made by another one are counted again. */
  countedBy: string;
  /** Tokens one message takes in a prompt. */
  count(message: ChatMessage): number;
}

export interface HistoryTail {
  /** The newest messages, oldest first: every stored one, or those from which a prompt can be built. */
  messages: ChatMessage[];
  /** Token counts of `messages`, in the same order. */
  tokens: number[];
  /** The stored position of `messages[0]` (positions count from the session's first message and never repeat). */
  firstPosition: number;
}

/** Token counts of a stored question and answer, and who counted them. */
export interface ExchangeTokens {
  user: number;
  assistant: number;
  countedBy: string;
}

interface TailRow {
  position: number;
  role: TurnRole;
  content: string;
  token_count: number | null;
  counted_by: string | null;
}

const defaultLimits: SessionLimits = { maxMessages: 1000, retentionMs: 0 };
/** Sessions deleted per statement by `deleteExpired`, so one run never holds the event loop for long. */
const expiryBatch = 200;

export class SessionRepository {
  private readonly selectTurns;
  private readonly selectTail;
  private readonly updateCount;
  private readonly insertTurn;
  private readonly trimTurns;
  private readonly deleteTurns;
  private readonly deleteExpiredBatch;
  private readonly limits: SessionLimits;
  private readonly keepMessages: number;
  private readonly storeExchange: (owner: string, session: string, user: string, assistant: string, tokens?: ExchangeTokens) => void;
  private readonly storeCounts: (owner: string, session: string, rows: { position: number; tokens: number }[], countedBy: string) => void;

  constructor(
    database: SqliteDatabase,
    limits: Partial<SessionLimits> = {},
    readonly health: StoreHealth = new StoreHealth(),
    private readonly now: () => number = Date.now,
  ) {
    this.limits = { ...defaultLimits, ...limits };
    // Whole exchanges: a kept history starts with a question.
    this.keepMessages = Math.max(2, this.limits.maxMessages - (this.limits.maxMessages % 2));
    this.selectTurns = database.prepare<[string, string], { role: TurnRole; content: string }>(
      "SELECT role, content FROM session_turns WHERE owner = ? AND session = ? ORDER BY position",
    );
    this.selectTail = database.prepare<[string, string], TailRow>(
      "SELECT position, role, content, token_count, counted_by FROM session_turns WHERE owner = ? AND session = ? ORDER BY position DESC",
    );
    this.updateCount = database.prepare<[number, string, string, string, number]>(
      "UPDATE session_turns SET token_count = ?, counted_by = ? WHERE owner = ? AND session = ? AND position = ?",
    );
    this.insertTurn = database.prepare<[string, string, string, string, string, string, number, number | null, string | null]>(
      `INSERT INTO session_turns (owner, session, position, role, content, created_at, token_count, counted_by)
       VALUES (?, ?, (SELECT COALESCE(MAX(position), -1) + 1 FROM session_turns WHERE owner = ? AND session = ?), ?, ?, ?, ?, ?)`,
    );
    this.trimTurns = database.prepare<[string, string, string, string, number]>(
      `DELETE FROM session_turns WHERE owner = ? AND session = ?
         AND position <= (SELECT MAX(position) FROM session_turns WHERE owner = ? AND session = ?) - ?`,
    );
    this.deleteTurns = database.prepare<[string, string]>("DELETE FROM session_turns WHERE owner = ? AND session = ?");
    this.deleteExpiredBatch = database.prepare<[number, number]>(
      `DELETE FROM session_turns WHERE (owner, session) IN (
         SELECT owner, session FROM session_turns GROUP BY owner, session HAVING MAX(created_at) < ? LIMIT ?)`,
    );
    this.storeExchange = database.transaction((owner: string, session: string, user: string, assistant: string, tokens?: ExchangeTokens) => {
      const now = this.now();
      const countedBy = tokens?.countedBy ?? null;
      this.insertTurn.run(owner, session, owner, session, "user", user, now, tokens?.user ?? null, countedBy);
      this.insertTurn.run(owner, session, owner, session, "assistant", assistant, now, tokens?.assistant ?? null, countedBy);
      // The cap, in the same transaction: a session never holds more than its limit, even for a moment.
      this.trimTurns.run(owner, session, owner, session, this.keepMessages);
    });
    this.storeCounts = database.transaction((owner: string, session: string, rows: { position: number; tokens: number }[], countedBy: string) => {
      for (const row of rows) this.updateCount.run(row.tokens, countedBy, owner, session, row.position);
    });
  }

  /** Every stored message, oldest first. */
  history(owner: string, session: string): ChatMessage[] {
    return this.guard("Reading the session history", () => this.selectTurns.all(owner, session));
  }

  /**
   * The newest messages whose token counts add up to more than `maxTokens` (or all of them): whatever part of a
   * history fits in a prompt is among them, and older messages are not read. Counts missing or made by another
   * tokenizer are counted now and stored.
   */
  recentHistory(owner: string, session: string, options: TailOptions): HistoryTail {
    const reversed: ChatMessage[] = [];
    const tokens: number[] = [];
    const counted: { position: number; tokens: number }[] = [];
    let total = 0;
    let firstPosition = 0;
    this.guard("Reading the session history", () => {
      for (const row of this.selectTail.iterate(owner, session)) {
        const message: ChatMessage = { role: row.role, content: row.content };
        let count = row.token_count;
        if (count === null || row.counted_by !== options.countedBy) {
          count = options.count(message);
          counted.push({ position: row.position, tokens: count });
        }
        reversed.push(message);
        tokens.push(count);
        firstPosition = row.position;
        total += count;
        if (total > options.maxTokens) break;
      }
    });
    if (counted.length > 0) {
      try {
        this.storeCounts(owner, session, counted, options.countedBy);
        this.health.succeeded();
      } catch (error) {
        // Only a cache: the request goes on, the counts are made again next time.
        this.health.failed(error);
      }
    }
    return { messages: reversed.reverse(), tokens: tokens.reverse(), firstPosition };
  }

  /**
   * Stores a question and its answer together, so a history never holds half an exchange, and deletes the
   * oldest messages beyond the session's cap in the same transaction. Throws a `storage_error` when it fails.
   */
  /**
   * Stores a question and its answer; `steps` (the agent loop's assistant tool calls and tool results, in order) go
   * between them.
   */
  appendExchange(owner: string, session: string, user: string, assistant: string, tokens?: ExchangeTokens, steps: ChatMessage[] = []): void {
    void steps;
    this.write("Storing the exchange", () => this.storeExchange(owner, session, user, assistant, tokens));
  }

  clear(owner: string, session: string): void {
    this.write("Deleting the session", () => this.deleteTurns.run(owner, session));
  }

  /**
   * Deletes the sessions whose last message is older than the retention period, a batch at a time, yielding to the
   * event loop between batches; returns how many messages were deleted. Does nothing when retention is 0.
   */
  async deleteExpired(): Promise<number> {
    if (this.limits.retentionMs <= 0) return 0;
    const cutoff = this.now() - this.limits.retentionMs;
    let deleted = 0;
    for (;;) {
      const changes = this.write("Deleting expired sessions", () => this.deleteExpiredBatch.run(cutoff, expiryBatch).changes);
      deleted += changes;
      if (changes === 0) return deleted;
      await new Promise((resolve) => setImmediate(resolve));
    }
  }

  private guard<T>(what: string, work: () => T): T {
    try {
      return work();
    } catch (error) {
      throw storageError(what, error);
    }
  }

  /** Runs a write; a failure marks the store unhealthy (for /readyz) and becomes a `storage_error`. */
  private write<T>(what: string, work: () => T): T {
    try {
      const result = work();
      this.health.succeeded();
      return result;
    } catch (error) {
      this.health.failed(error);
      throw storageError(what, error);
    }
  }
}
