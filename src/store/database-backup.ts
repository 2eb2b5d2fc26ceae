// An online, consistent copy of a node's database with SQLite's backup API, taken while the node serves.
import fs from "node:fs";
import path from "node:path";
import Database from "better-sqlite3";
import { ClawError } from "../core/errors.js";
import { privateFileMode } from "../core/private-files.js";
import { databaseFileName, type SqliteDatabase } from "./database.js";
import { checkDatabaseFile, type DatabaseSummary } from "./database-summary.js";
import { describeSqliteFailure } from "./storage-error.js";

export interface BackupOptions {
  /** Replace the target file when it exists. */
  force?: boolean;
  /** How long the copy may wait for the database while it is locked (ms); default 30 s. */
  lockedTimeoutMs?: number;
}

export interface BackupResult {
  /** The backup file written. */
  file: string;
  /** The database it was copied from. */
  source: string;
  /** What the copy holds (after its integrity_check). */
  summary: DatabaseSummary;
}

/**
 * Copies data_dir/clawbot.db to `target`: with SQLite's online backup API, while a node may be serving. All pages
 * are copied in one step, inside one read transaction of this process's own connection: in WAL mode that never
 * blocks the node's writes (the node is the database's only writer and a reader takes none of its locks), and the
 * copy is the database as it was at one instant, never restarted by the node's writes. When the database is locked
 * (a node recovering its WAL), the copy waits and tries again, with growing pauses, in this process only.
 * The copy is written under a temporary name, made a single file (journal_mode delete), checked with
 * integrity_check, set to 0600 and renamed into place; an existing target is refused unless `force`.
 */
export async function backupDatabase(dataDir: string, target: string, options: BackupOptions = {}): Promise<BackupResult> {
  const source = path.resolve(dataDir, databaseFileName);
  const file = path.resolve(target);
  checkTarget(source, file, options.force ?? false);
  if (!fs.existsSync(source)) {
    throw new ClawError("storage_error", `There is no database at ${source}: nothing to back up (is this the node's data directory? see --data-dir and -c).`);
  }
  const temporary = path.join(path.dirname(file), `.${path.basename(file)}.partial-${process.pid}`);
  removeDatabaseFiles(temporary);
  let database: SqliteDatabase | undefined;
  try {
    database = new Database(source, { fileMustExist: true });
    // Only this process waits on a lock; the node's own connection keeps its short busy_timeout.
    database.pragma("busy_timeout = 1000");
    await copyAllPages(database, temporary, options.lockedTimeoutMs ?? 30_000);
    database.close();
    database = undefined;
    // A single self-contained file: no -wal beside it to forget when it is moved.
    const summary = checkDatabaseFile(temporary, "integrity_check", { journalMode: "delete" });
    fs.chmodSync(temporary, privateFileMode);
    syncFile(temporary);
    fs.renameSync(temporary, file);
    syncFile(path.dirname(file));
    return { file, source, summary: { ...summary, bytes: fs.statSync(file).size } };
  } catch (error) {
    database?.close();
    removeDatabaseFiles(temporary);
    if (error instanceof ClawError) throw error;
    throw new ClawError("storage_error", `Backing up ${source} to ${file} failed: ${describeSqliteFailure(error)}.`, { cause: error });
  }
}

function checkTarget(source: string, file: string, force: boolean): void {
  if (file === source || file.startsWith(`${source}-`)) throw new ClawError("bad_request", `${file} is the node's own database: write the backup somewhere else.`);
  const directory = path.dirname(file);
  if (!fs.existsSync(directory)) throw new ClawError("bad_request", `Cannot write ${file}: the directory ${directory} does not exist.`);
  if (!fs.existsSync(file)) return;
  if (!fs.statSync(file).isFile()) throw new ClawError("bad_request", `${file} exists and is not a file.`);
  if (!force) throw new ClawError("bad_request", `${file} already exists: choose another name, or pass --force to replace it.`);
}

/** Pages of the whole database in one backup step (SQLite copies what there is). */
const allPages = 0x7fffffff;

/**
 * Runs better-sqlite3's backup into `file`, the pages in one step. better-sqlite3 answers a locked step (SQLITE_BUSY)
 * by trying again on the next turn of the event loop; the progress callback then sees pages still to copy and pauses
 * this process (growing pauses) before the retry, up to `timeoutMs` (each step itself waits up to the connection's
 * busy_timeout first). A first step refused before it counted the pages reports none, and better-sqlite3 then
 * resolves as if it were done, with an empty copy: that copy is thrown away and taken again.
 */
async function copyAllPages(database: SqliteDatabase, file: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let pause = 10;
  const wait = () => {
    if (Date.now() + pause > deadline) throw new ClawError("storage_error", `The database stayed locked for ${timeoutMs / 1000} s; nothing was copied. Try again.`);
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, pause);
    pause = Math.min(pause * 2, 500);
  };
  for (;;) {
    // Created here, 0600, so SQLite (which gives its journal the database file's mode) never makes the copy wider.
    fs.writeFileSync(file, "", { mode: privateFileMode });
    let steps = 0;
    const progress = await database.backup(file, {
      progress: () => {
        steps += 1;
        // The first step only opens the copy (it counts the pages); from the second on, pages left mean a locked step.
        if (steps > 1) wait();
        return allPages;
      },
    });
    if (progress.totalPages > 0 && progress.remainingPages === 0) return;
    removeDatabaseFiles(file);
    wait();
  }
}

/** Removes a database file and the journal, WAL and shared-memory files SQLite may have left beside it. */
export function removeDatabaseFiles(file: string): void {
  for (const suffix of ["", "-journal", "-wal", "-shm"]) fs.rmSync(`${file}${suffix}`, { force: true });
}

/** fsync: the copy (and its new name in the directory) is on disk before the command says it is done. */
export function syncFile(file: string): void {
  const descriptor = fs.openSync(file, "r");
  try {
    fs.fsyncSync(descriptor);
  } finally {
    fs.closeSync(descriptor);
  }
}
