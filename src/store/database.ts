// Opens the SQLite database under data_dir (WAL) and applies migrations in order.
import fs from "node:fs";
import path from "node:path";
import Database from "better-sqlite3";
import { ClawError } from "../core/errors.js";
import { ensurePrivateDirectory, privateFileMode, restrictFile } from "../core/private-files.js";
import { describeSqliteFailure, sqliteCode } from "./storage-error.js";

export type SqliteDatabase = Database.Database;

const migrations: string[] = [
  `CREATE TABLE session_turns (
     owner TEXT NOT NULL,
     session TEXT NOT NULL,
     position INTEGER NOT NULL,
     role TEXT NOT NULL CHECK (role IN ('user', 'assistant')),
     content TEXT NOT NULL,
     created_at INTEGER NOT NULL,
     PRIMARY KEY (owner, session, position)
   ) WITHOUT ROWID`,
  // The MQTT gateway's durable request ledger: a request is written here before it is acknowledged.
  `CREATE TABLE mqtt_requests (
     gateway TEXT NOT NULL,
     client TEXT NOT NULL,
     request_id TEXT NOT NULL,
     payload TEXT NOT NULL,
     reply_topic TEXT NOT NULL,
     correlation_data BLOB NULL,
     state TEXT NOT NULL CHECK (state IN ('accepted', 'answered')),
     received_at INTEGER NOT NULL,
     PRIMARY KEY (gateway, client, request_id)
   ) WITHOUT ROWID`,
  // Token counts of stored messages, so a prompt is built from a long history without tokenizing it every turn.
  // Rows stored before this have none (NULL) and are counted the first time they are read; `counted_by` names the
  // engine and model that counted (another model's tokenizer gives other counts).
  `ALTER TABLE session_turns ADD COLUMN token_count INTEGER NULL;
   ALTER TABLE session_turns ADD COLUMN counted_by TEXT NULL`,
  // The MQTT request ledger without bearer tokens: the request without its token plus the verified principal (and
  // its expiry) it resumes with, keyed by owner (the verified subject), and the stored finish of a recorded answer.
  // Answered records are kept (duplicates of them are still recognised); the old table's unanswered ones held
  // tokens and are dropped, their freed pages overwritten.
  `PRAGMA secure_delete = ON;
   CREATE TABLE mqtt_request_ledger (
     gateway TEXT NOT NULL,
     owner TEXT NOT NULL,
     request_id TEXT NOT NULL,
     request TEXT NOT NULL,
     principal TEXT NOT NULL,
     expires_at INTEGER NULL,
     reply_topic TEXT NOT NULL,
     correlation_data BLOB NULL,
     state TEXT NOT NULL CHECK (state IN ('accepted', 'recorded', 'answered')),
     final_frame TEXT NULL,
     received_at INTEGER NOT NULL,
     PRIMARY KEY (gateway, owner, request_id)
   ) WITHOUT ROWID;
   INSERT INTO mqtt_request_ledger (gateway, owner, request_id, request, principal, reply_topic, state, received_at)
     SELECT gateway, client, request_id, '{}', '{}', reply_topic, 'answered', received_at FROM mqtt_requests WHERE state = 'answered';
   DROP TABLE mqtt_requests;
   PRAGMA secure_delete = OFF`,
  // The audit ledger: append-only, numbered without gaps, each record's hash chained to the one before (docs/audit.md).
  // The triggers refuse deleting a record, renumbering or re-hashing it, and a gap (only a body may change: erasing a
  // text); AUTOINCREMENT keeps the highest sequence ever written in sqlite_sequence, so `audit verify` notices a cut tail.
  // They guard against mistakes, not against someone who can edit the file: the hash chain and checkpoints do that.
  `CREATE TABLE audit_records (
     sequence INTEGER PRIMARY KEY AUTOINCREMENT,
     recorded_at INTEGER NOT NULL,
     kind TEXT NOT NULL,
     body TEXT NOT NULL,
     hash TEXT NOT NULL
   );
   CREATE TRIGGER audit_records_no_delete BEFORE DELETE ON audit_records
     BEGIN SELECT RAISE(ABORT, 'audit records are append-only'); END;
   CREATE TRIGGER audit_records_no_rewrite BEFORE UPDATE OF sequence, recorded_at, kind, hash ON audit_records
     BEGIN SELECT RAISE(ABORT, 'audit records are append-only (only a text may be erased)'); END;
   CREATE TRIGGER audit_records_no_gap BEFORE INSERT ON audit_records
     WHEN NEW.sequence IS NOT (SELECT COALESCE(MAX(sequence), 0) + 1 FROM audit_records)
     BEGIN SELECT RAISE(ABORT, 'audit records are numbered without gaps'); END`,
  // How far each audit sink has acknowledged the ledger: a sink that was down ships its backlog from here.
  `CREATE TABLE audit_sink_cursors (
     sink TEXT PRIMARY KEY,
     sequence INTEGER NOT NULL,
     updated_at INTEGER NOT NULL
   ) WITHOUT ROWID`,
  // Revoked tokens (src/security/revocation-list.ts): a token id (jti), or a subject's SM3 digest (every token of that
  // subject issued up to revoked_at); forgotten after expires_at (epoch ms: the token's exp), kept when NULL.
  `CREATE TABLE revoked_tokens (
     kind TEXT NOT NULL CHECK (kind IN ('jti', 'subject')),
     value TEXT NOT NULL,
     revoked_at INTEGER NOT NULL,
     expires_at INTEGER NULL,
     PRIMARY KEY (kind, value)
   ) WITHOUT ROWID`,
  // The agent loop's tool steps in the history: role 'tool' (a result, with the call it answers and the tool's name),
  // and an assistant turn's calls (tool_calls: a JSON array of {id, name, arguments}). SQLite cannot change a CHECK,
  // so the table is rebuilt under another name, every row copied, the old one dropped and the new one renamed; it has
  // no indexes, triggers or foreign keys besides its primary key.
  `CREATE TABLE session_turns_with_tools (
     owner TEXT NOT NULL,
     session TEXT NOT NULL,
     position INTEGER NOT NULL,
     role TEXT NOT NULL CHECK (role IN ('user', 'assistant', 'tool')),
     content TEXT NOT NULL,
     created_at INTEGER NOT NULL,
     token_count INTEGER NULL,
     counted_by TEXT NULL,
     tool_calls TEXT NULL CHECK (tool_calls IS NULL OR (role = 'assistant' AND json_valid(tool_calls))),
     tool_call_id TEXT NULL,
     tool_name TEXT NULL,
     CHECK ((role = 'tool') = (tool_call_id IS NOT NULL AND tool_name IS NOT NULL)),
     CHECK (role = 'tool' OR (tool_call_id IS NULL AND tool_name IS NULL)),
     PRIMARY KEY (owner, session, position)
   ) WITHOUT ROWID;
   INSERT INTO session_turns_with_tools (owner, session, position, role, content, created_at, token_count, counted_by)
     SELECT owner, session, position, role, content, created_at, token_count, counted_by FROM session_turns;
   DROP TABLE session_turns;
   ALTER TABLE session_turns_with_tools RENAME TO session_turns`,
];

/**
 * How long a statement waits for a lock another connection holds. better-sqlite3 is synchronous: while SQLite
 * waits, the event loop waits with it and every request of the node stalls. The node is the only writer of its
 * database, so contention means another process (a backup tool, a second node on the same data_dir); rather than
 * freeze for seconds, a statement gives up after this and the request fails with a `storage_error` saying the
 * database is locked.
 */
export const busyTimeoutMs = 50;

/**
 * Opens data_dir/clawbot.db (WAL), checks it (`PRAGMA quick_check`) and applies migrations. The directory is
 * created 0700 and the database files are set to 0600. Throws a `storage_error` naming the file, the cause and
 * the way back when it cannot be opened, is not a database or is damaged.
 */
/**
 * Opens (creating) an SQLite file only its owner may read: the directory 0700, the file and its -wal/-shm 0600, WAL
 * journal, synchronous NORMAL, the given busy timeout. The node's database and the knowledge base open this way.
 */
export function openPrivateSqliteFile(file: string, busyTimeout: number): SqliteDatabase {
  ensurePrivateDirectory(path.dirname(file));
  // Created here, mode 0600, so SQLite (which gives its -wal and -shm files the database's mode) never makes it wider.
  if (!fs.existsSync(file)) fs.closeSync(fs.openSync(file, "a", privateFileMode));
  restrictFile(file);
  const database = new Database(file);
  try {
    database.pragma("journal_mode = WAL");
    database.pragma("synchronous = NORMAL");
    database.pragma(`busy_timeout = ${busyTimeout}`);
    for (const suffix of ["-wal", "-shm"]) restrictFile(file + suffix);
    return database;
  } catch (error) {
    database.close();
    throw error;
  }
}

export function openDatabase(dataDir: string): SqliteDatabase {
  const file = path.join(dataDir, databaseFileName);
  let database: SqliteDatabase | undefined;
  try {
    database = openPrivateSqliteFile(file, busyTimeoutMs);
    // A damaged file would otherwise start, report ready, and fail every session request.
    const check = database.pragma("quick_check", { simple: true });
    if (check !== "ok") throw new DamagedDatabase(String(check));
    migrate(database);
    return database;
  } catch (error) {
    database?.close();
    throw openFailure(file, error);
  }
}

export const databaseFileName = "clawbot.db";

class DamagedDatabase extends Error {}

/** A start-up error naming the database file, what is wrong and what to do about it. */
function openFailure(file: string, error: unknown): ClawError {
  const code = sqliteCode(error) ?? (error as NodeJS.ErrnoException).code ?? "";
  const wayBack =
    `Restore ${file} from a backup, or stop the node and move it aside (with ${path.basename(file)}-wal and ` +
    `${path.basename(file)}-shm next to it) to start with an empty database.`;
  let cause: string;
  if (error instanceof DamagedDatabase) cause = `the database is damaged (quick_check: ${error.message}). ${wayBack}`;
  else if (code === "SQLITE_NOTADB") cause = `the file is not an SQLite database (or its first page is damaged). ${wayBack}`;
  else if (code.startsWith("SQLITE_CORRUPT")) cause = `the database is damaged (${(error as Error).message}). ${wayBack}`;
  else if (code.startsWith("SQLITE_CANTOPEN") || code.startsWith("SQLITE_READONLY") || code === "SQLITE_PERM" || code === "EACCES" || code === "EPERM" || code === "EROFS") {
    cause = `${accessProblem(file)}. Fix the permissions, or set agent.data_dir to a directory this user can write.`;
  } else cause = describeSqliteFailure(error);
  return new ClawError("storage_error", `Cannot open the database ${file}: ${cause}`, { cause: error });
}

/** Why the database file cannot be opened for reading and writing: the directory, the file, or neither. */
function accessProblem(file: string): string {
  const directory = path.dirname(file);
  if (!fs.existsSync(directory)) return `its directory ${directory} does not exist and cannot be created (its parent is read-only or not writable by this user)`;
  try {
    fs.accessSync(directory, fs.constants.W_OK | fs.constants.X_OK);
  } catch {
    return `its directory ${directory} is read-only or not writable by this user (SQLite needs to create files next to the database)`;
  }
  if (fs.existsSync(file) && !fs.statSync(file).isFile()) return "it is not a regular file";
  try {
    fs.accessSync(file, fs.constants.R_OK | fs.constants.W_OK);
  } catch {
    return "the file's permissions do not let this user read and write it";
  }
  return "unable to open database file (permissions, a read-only file system, or not a regular file)";
}

/** A database that lives only as long as the process (for gateways built without the daemon's store). */
export function openMemoryDatabase(): SqliteDatabase {
  const database = new Database(":memory:");
  migrate(database);
  return database;
}

function migrate(database: SqliteDatabase): void {
  applyMigrations(database, migrations);
}

/** Applies the migrations after the database's `user_version`, each in its own transaction that advances it. */
export function applyMigrations(database: SqliteDatabase, migrations: readonly string[]): void {
  const current = database.pragma("user_version", { simple: true }) as number;
  for (let version = current; version < migrations.length; version += 1) {
    database.transaction(() => {
      database.exec(migrations[version] as string);
      database.pragma(`user_version = ${version + 1}`);
    })();
  }
}
