// Deletes a data subject's rows from the node's database (sessions, MQTT request ledger) and its saved sequence states.
import fs from "node:fs";
import path from "node:path";
import type { SqliteDatabase } from "./database.js";

/** What was deleted for one subject, by kind. */
export interface StoreErasureCounts {
  /** Sessions (distinct session names) whose messages were deleted. */
  sessions: number;
  /** Stored messages (questions and answers). */
  messages: number;
  /** Entries of the MQTT request ledger the subject owned. */
  mqtt_requests: number;
}

/**
 * Deletes the subject's session messages and MQTT ledger entries. Call it inside a transaction with
 * `PRAGMA secure_delete` on (see `withSecureDelete`), so the freed pages are overwritten with zeros.
 */
export function deleteSubjectRows(database: SqliteDatabase, subject: string): StoreErasureCounts {
  const { sessions } = database.prepare("SELECT COUNT(DISTINCT session) AS sessions FROM session_turns WHERE owner = ?").get(subject) as { sessions: number };
  const messages = database.prepare("DELETE FROM session_turns WHERE owner = ?").run(subject).changes;
  const mqttRequests = database.prepare("DELETE FROM mqtt_request_ledger WHERE owner = ?").run(subject).changes;
  return { sessions, messages, mqtt_requests: mqttRequests };
}

/**
 * Runs `work` in one transaction with `PRAGMA secure_delete = ON` (deleted and overwritten content is zeroed in the
 * file, not just unlinked), then restores the connection's setting. The pragma cannot change inside a transaction.
 */
export function withSecureDelete<T>(database: SqliteDatabase, work: () => T): T {
  const previous = database.pragma("secure_delete", { simple: true }) as number;
  database.pragma("secure_delete = ON");
  try {
    return database.transaction(work)();
  } finally {
    database.pragma(`secure_delete = ${previous}`);
  }
}

/**
 * Folds the WAL into the database and truncates it: the WAL holds older page images (with the erased texts) until
 * a checkpoint. False when a reader kept part of it (the next checkpoint finishes the job).
 */
export function checkpointAfterErasure(database: SqliteDatabase): boolean {
  try {
    const [result] = database.pragma("wal_checkpoint(TRUNCATE)") as { busy: number }[];
    return result?.busy === 0;
  } catch {
    return false;
  }
}

/**
 * Deletes the saved sequence states (`data_dir/sequence-states`, agent.persist_state) of the subject's conversations.
 * Each state `<stem>.state` has a record `<stem>.json` whose `conversation` is the conversation key, the JSON
 * `[subject, session]` (src/pipeline/pipeline.ts); the stem is a hash of it, so the records are read to find them.
 * Returns how many states were deleted.
 */
export function deleteSubjectStates(dataDir: string, subject: string): number {
  const directory = path.join(dataDir, "sequence-states");
  let names: string[];
  try {
    names = fs.readdirSync(directory);
  } catch {
    return 0;
  }
  let deleted = 0;
  for (const name of names.filter((entry) => entry.endsWith(".json"))) {
    const recordPath = path.join(directory, name);
    if (conversationOwner(recordPath) !== subject) continue;
    fs.rmSync(recordPath.replace(/\.json$/, ".state"), { force: true });
    fs.rmSync(recordPath, { force: true });
    deleted += 1;
  }
  return deleted;
}

function conversationOwner(recordPath: string): string | undefined {
  try {
    const record = JSON.parse(fs.readFileSync(recordPath, "utf8")) as { conversation?: unknown };
    const key = typeof record.conversation === "string" ? (JSON.parse(record.conversation) as unknown) : undefined;
    return Array.isArray(key) && typeof key[0] === "string" ? key[0] : undefined;
  } catch {
    return undefined;
  }
}
