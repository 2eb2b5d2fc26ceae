// Puts a backup in place of a stopped node's database, keeping the database it replaces beside it.
import fs from "node:fs";
import path from "node:path";
import Database from "better-sqlite3";
import { ClawError } from "../core/errors.js";
import { ensurePrivateDirectory, privateFileMode } from "../core/private-files.js";
import { databaseFileName } from "./database.js";
import { auditHead, checkDatabaseFile, type DatabaseSummary } from "./database-summary.js";
import { removeDatabaseFiles, syncFile } from "./database-backup.js";

export interface RestoreOptions {
  /** Restore even when the current database's audit ledger goes further than the backup's. */
  force?: boolean;
  /** For the name of the moved-aside file; now by default. */
  now?: Date;
}

export interface RestoreResult {
  /** The database file now in place. */
  database: string;
  /** What it holds. */
  summary: DatabaseSummary;
  /** The files of the database it replaced, moved aside (the database first); empty when there was none. */
  movedAside: string[];
}

/**
 * Replaces data_dir/clawbot.db with a copy of `backupFile`. The caller makes sure no node runs on the data
 * directory (see runningNode). The backup (with a -wal file next to it, if any) is copied into the data directory
 * first and checked there (it opens, quick_check ok, a Clawbot schema not newer than this one), so what is checked is
 * what is put in place. The current database has its WAL folded in and is renamed clawbot.db.before-restore-<time>
 * (its -wal and -shm follow it when they cannot be folded); nothing is deleted.
 * Refused without `force` when the current audit ledger holds records the backup lacks: the live ledger would go
 * back to an earlier head (those records stay in the moved-aside file).
 */
export function restoreDatabase(dataDir: string, backupFile: string, options: RestoreOptions = {}): RestoreResult {
  const directory = path.resolve(dataDir);
  const database = path.join(directory, databaseFileName);
  const source = path.resolve(backupFile);
  if (source === database) throw new ClawError("bad_request", `${source} is the node's own database: name a backup file.`);
  if (!fs.existsSync(source)) throw new ClawError("bad_request", `There is no file ${source}.`);
  if (!fs.statSync(source).isFile()) throw new ClawError("bad_request", `${source} is not a file.`);
  ensurePrivateDirectory(directory);
  const incoming = path.join(directory, `.${databaseFileName}.restoring-${process.pid}`);
  removeDatabaseFiles(incoming);
  try {
    copyPrivate(source, incoming);
    // A copy taken by hand of a stopped database may have its last changes in a -wal file next to it.
    if (fs.existsSync(`${source}-wal`)) copyPrivate(`${source}-wal`, `${incoming}-wal`);
    const summary = checkDatabaseFile(incoming, "quick_check");
    // Folded in at close; whatever SQLite left is not part of the restore.
    for (const suffix of ["-wal", "-shm"]) fs.rmSync(`${incoming}${suffix}`, { force: true });
    const current = fs.existsSync(database) ? foldAndReadHead(database) : undefined;
    const currentHead = current?.auditHead?.sequence ?? 0;
    const backupHead = summary.auditHead?.sequence ?? 0;
    if (currentHead > backupHead && !options.force) {
      throw new ClawError(
        "bad_request",
        `The current database's audit ledger goes to record #${currentHead}, the backup's to #${backupHead}: restoring takes the ledger ` +
          `back, and records #${backupHead + 1}–#${currentHead} stay only in the moved-aside file (sinks that received them will see those ` +
          `numbers again for new records). Pass --force to restore anyway.`,
      );
    }
    const movedAside = moveAside(database, options.now ?? new Date());
    syncFile(incoming);
    fs.renameSync(incoming, database);
    fs.chmodSync(database, privateFileMode);
    syncFile(directory);
    return { database, summary: { ...summary, bytes: fs.statSync(database).size }, movedAside };
  } catch (error) {
    removeDatabaseFiles(incoming);
    if (error instanceof ClawError) throw error;
    throw new ClawError("storage_error", `Restoring ${source} into ${database} failed: ${(error as Error).message}`, { cause: error });
  }
}

/**
 * Folds the current database's WAL into it (so the moved-aside file stands alone) and reads its audit head; when
 * it cannot be opened (a damaged database is a reason to restore), its head is unknown and its files move as they are.
 */
function foldAndReadHead(file: string): { auditHead: { sequence: number } | undefined } | undefined {
  let database: Database.Database | undefined;
  try {
    database = new Database(file, { fileMustExist: true });
    database.pragma("wal_checkpoint(TRUNCATE)");
    return { auditHead: auditHead(database) };
  } catch {
    return undefined;
  } finally {
    // The last connection to close a WAL database checkpoints it and removes its -wal and -shm.
    database?.close();
  }
}

/** Renames the database and any -wal/-shm left beside it to <name>.before-restore-<time>[-wal|-shm]. */
function moveAside(database: string, now: Date): string[] {
  const aside = `${database}.before-restore-${now.toISOString().replace(/[:.]/g, "-")}`;
  const moved: string[] = [];
  for (const suffix of ["", "-wal", "-shm"]) {
    if (!fs.existsSync(`${database}${suffix}`)) continue;
    if (fs.existsSync(`${aside}${suffix}`)) throw new ClawError("storage_error", `${aside}${suffix} already exists; try again in a second.`);
    fs.renameSync(`${database}${suffix}`, `${aside}${suffix}`);
    moved.push(`${aside}${suffix}`);
  }
  return moved;
}

function copyPrivate(from: string, to: string): void {
  fs.copyFileSync(from, to, fs.constants.COPYFILE_EXCL);
  fs.chmodSync(to, privateFileMode);
}
