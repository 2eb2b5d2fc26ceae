// Conversation history per (owner, session id), persisted in SQLite with each message's token count, bounded in length and age.
import { ClawError } from "../core/errors.js";
import type { ChatMessage, ToolCall } from "../core/types.js";
import type { SqliteDatabase } from "./database.js";
import { storageError } from "./storage-error.js";
import { StoreHealth } from "./store-health.js";
import { isToolStep } from "../core/tool-messages.js";
import type { SessionStore } from "./session-store.js";
import { withSecureDelete } from "./erasure.js";

/** A stored message's role: a question, an answer (or an agent-loop step's tool calls), a tool's result. */
export type TurnRole = "user" | "assistant" | "tool";

export interface SessionLimits {
  /**
   * Stored messages per session (tool steps included); the oldest are deleted beyond it, whole exchanges at a time,
   * so a history always starts with a question.
   */
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

/** A stored message as read: its role and text, and its tool fields (NULL unless a tool step). */
interface TurnRow {
  role: TurnRole;
  content: string;
  /** An assistant step's calls: a JSON array of {id, name, arguments}. */
  tool_calls: string | null;
  tool_call_id: string | null;
  tool_name: string | null;
}

interface TailRow extends TurnRow {
  position: number;
  token_count: number | null;
  counted_by: string | null;
}

const turnColumns = "role, content, tool_calls, tool_call_id, tool_name";

const defaultLimits: SessionLimits = { maxMessages: 1000, retentionMs: 0 };
/** Sessions deleted per statement by `deleteExpired`, so one run never holds the event loop for long. */
const expiryBatch = 200;

export class SessionRepository implements SessionStore {
  private readonly selectTurns;
  private readonly selectTail;
  private readonly updateCount;
  private readonly insertTurn;
  private readonly trimTurns;
  private readonly deleteTurns;
  private readonly deleteExpiredBatch;
  private readonly selectLast;
  private readonly deleteOwnerTurns;
  private readonly limits: SessionLimits;
  private readonly keepMessages: number;
  private readonly storeExchange: (owner: string, session: string, user: string, assistant: string, tokens: ExchangeTokens | undefined, steps: readonly ChatMessage[]) => void;
  private readonly storeCounts: (owner: string, session: string, rows: { position: number; tokens: number }[], countedBy: string) => void;

  constructor(
    private readonly database: SqliteDatabase,
    limits: Partial<SessionLimits> = {},
    readonly health: StoreHealth = new StoreHealth(),
    private readonly now: () => number = Date.now,
  ) {
    this.limits = { ...defaultLimits, ...limits };
    // At least a question and its answer.
    this.keepMessages = Math.max(2, this.limits.maxMessages);
    this.selectTurns = database.prepare<[string, string], TurnRow>(
      `SELECT ${turnColumns} FROM session_turns WHERE owner = ? AND session = ? ORDER BY position`,
    );
    this.selectTail = database.prepare<[string, string], TailRow>(
      `SELECT position, ${turnColumns}, token_count, counted_by FROM session_turns WHERE owner = ? AND session = ? ORDER BY position DESC`,
    );
    this.updateCount = database.prepare<[number, string, string, string, number]>(
      "UPDATE session_turns SET token_count = ?, counted_by = ? WHERE owner = ? AND session = ? AND position = ?",
    );
    this.insertTurn = database.prepare<[string, string, string, string, string, string, number, number | null, string | null, string | null, string | null, string | null]>(
      `INSERT INTO session_turns (owner, session, position, role, content, created_at, token_count, counted_by, tool_calls, tool_call_id, tool_name)
       VALUES (?, ?, (SELECT COALESCE(MAX(position), -1) + 1 FROM session_turns WHERE owner = ? AND session = ?), ?, ?, ?, ?, ?, ?, ?, ?)`,
    );
    // Whole exchanges: everything before the oldest question among the newest `keepMessages` messages goes, so a kept
    // history starts with a question (never with a tool step whose question was deleted).
    this.trimTurns = database.prepare<[string, string, string, string, string, string, number]>(
      `DELETE FROM session_turns WHERE owner = ? AND session = ? AND position < (
         SELECT MIN(position) FROM session_turns WHERE owner = ? AND session = ? AND role = 'user'
           AND position > (SELECT MAX(position) FROM session_turns WHERE owner = ? AND session = ?) - ?)`,
    );
    this.deleteTurns = database.prepare<[string, string]>("DELETE FROM session_turns WHERE owner = ? AND session = ?");
    this.selectLast = database.prepare<[string, string], { position: number; content: string }>(
      "SELECT position, content FROM session_turns WHERE owner = ? AND session = ? ORDER BY position DESC LIMIT 1",
    );
    this.deleteOwnerTurns = database.prepare<[string]>("DELETE FROM session_turns WHERE owner = ?");
    this.deleteExpiredBatch = database.prepare<[number, number]>(
      `DELETE FROM session_turns WHERE (owner, session) IN (
         SELECT owner, session FROM session_turns GROUP BY owner, session HAVING MAX(created_at) < ? LIMIT ?)`,
    );
    this.storeExchange = database.transaction((owner: string, session: string, user: string, assistant: string, tokens: ExchangeTokens | undefined, steps: readonly ChatMessage[]) => {
      const now = this.now();
      const countedBy = tokens?.countedBy ?? null;
      const insert = (role: TurnRole, content: string, count: number | null, toolCalls: string | null = null, toolCallId: string | null = null, toolName: string | null = null) =>
        this.insertTurn.run(owner, session, owner, session, role, content, now, count, count === null ? null : countedBy, toolCalls, toolCallId, toolName);
      insert("user", user, tokens?.user ?? null);
      // Steps have no counts yet: they are counted the first time they are read.
      for (const step of steps) {
        if (step.role === "tool") insert("tool", step.content, null, null, step.toolCallId ?? null, step.name ?? null);
        else insert("assistant", step.content, null, step.toolCalls && step.toolCalls.length > 0 ? storedCalls(step.toolCalls) : null);
      }
      insert("assistant", assistant, tokens?.assistant ?? null);
      // The cap, in the same transaction: a session never holds more than its limit, even for a moment.
      this.trimTurns.run(owner, session, owner, session, owner, session, this.keepMessages);
    });
    this.storeCounts = database.transaction((owner: string, session: string, rows: { position: number; tokens: number }[], countedBy: string) => {
      for (const row of rows) this.updateCount.run(row.tokens, countedBy, owner, session, row.position);
    });
  }

  /** Every stored message, oldest first, tool steps included. */
  history(owner: string, session: string): ChatMessage[] {
    return this.guard("Reading the session history", () => this.selectTurns.all(owner, session).map(toMessage));
  }

  /**
   * The newest messages whose token counts add up to more than `maxTokens` (or all of them), less any tool steps at
   * their start (a tool result without its call, or calls without their question, cannot begin a prompt): whatever
   * part of a history fits in a prompt is among them, and older messages are not read. Counts missing or made by
   * another tokenizer are counted now and stored.
   */
  recentHistory(owner: string, session: string, options: TailOptions): HistoryTail {
    const reversed: ChatMessage[] = [];
    const tokens: number[] = [];
    const positions: number[] = [];
    const counted: { position: number; tokens: number }[] = [];
    let total = 0;
    this.guard("Reading the session history", () => {
      for (const row of this.selectTail.iterate(owner, session)) {
        const message = toMessage(row);
        let count = row.token_count;
        if (count === null || row.counted_by !== options.countedBy) {
          count = options.count(message);
          counted.push({ position: row.position, tokens: count });
        }
        reversed.push(message);
        tokens.push(count);
        positions.push(row.position);
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
    // Oldest first; the tail begins where a prompt can: not at a tool step whose question was not read.
    let start = reversed.length;
    while (start > 0 && isToolStep(reversed[start - 1] as ChatMessage)) start -= 1;
    return { messages: reversed.slice(0, start).reverse(), tokens: tokens.slice(0, start).reverse(), firstPosition: start > 0 ? (positions[start - 1] as number) : 0 };
  }

  /**
   * Stores a question, the agent loop's `steps` (assistant turns with their tool calls and the `tool` results, in
   * order) and the answer together at consecutive positions, so a history never holds half an exchange, and deletes
   * the oldest exchanges beyond the session's cap in the same transaction. When the steps alone would take the whole
   * cap, they are not stored (the question and the answer are). Throws a `storage_error` when it fails.
   */
  appendExchange(owner: string, session: string, user: string, assistant: string, tokens?: ExchangeTokens, steps: readonly ChatMessage[] = []): void {
    const misplaced = steps.find((step) => !(step.role === "assistant" || (step.role === "tool" && step.toolCallId !== undefined && step.name !== undefined)));
    if (misplaced) throw new ClawError("internal", `An exchange's tool steps are assistant turns and tool results (with their call id and name), not this ${misplaced.role} message.`);
    const kept = steps.length + 2 <= this.keepMessages ? steps : [];
    this.write("Storing the exchange", () => this.storeExchange(owner, session, user, assistant, tokens, kept));
  }

  clear(owner: string, session: string): void {
    this.write("Deleting the session", () => this.deleteTurns.run(owner, session));
  }

  /** Milliseconds a session is kept after its last message (0: forever). */
  get retentionMs(): number {
    return this.limits.retentionMs;
  }

  /** The session's newest stored message's position and text (a replica checks with it that a write was committed). */
  lastMessage(owner: string, session: string): { position: number; content: string } | undefined {
    return this.guard("Reading the session history", () => this.selectLast.get(owner, session));
  }

  /** Deletes every session of `owner` with secure_delete (another node erased the subject); returns the messages deleted. */
  deleteOwner(owner: string): number {
    return this.write("Erasing the subject's sessions", () => withSecureDelete(this.database, () => this.deleteOwnerTurns.run(owner).changes));
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


/** A stored row as a message, with the tool fields it has (and no others). */
function toMessage(row: TurnRow): ChatMessage {
  const message: ChatMessage = { role: row.role, content: row.content };
  if (row.tool_calls !== null) message.toolCalls = JSON.parse(row.tool_calls) as ToolCall[];
  if (row.tool_call_id !== null) message.toolCallId = row.tool_call_id;
  if (row.tool_name !== null) message.name = row.tool_name;
  return message;
}

/** An assistant step's calls as stored: the JSON array of {id, name, arguments}. */
function storedCalls(calls: readonly ToolCall[]): string {
  return JSON.stringify(calls.map((call) => ({ id: call.id, name: call.name, arguments: call.arguments })));
}
