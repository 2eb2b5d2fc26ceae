// Turns SQLite failures into `storage_error`s that say what failed and why, in words an operator can act on.
import { ClawError } from "../core/errors.js";

/** SQLite's result code of an error thrown by better-sqlite3 (e.g. "SQLITE_FULL"), if it is one. */
export function sqliteCode(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | undefined)?.code;
  return typeof code === "string" && code.startsWith("SQLITE_") ? code : undefined;
}

/** A short reason for an SQLite result code. */
export function describeSqliteFailure(error: unknown): string {
  const code = sqliteCode(error) ?? "";
  const message = (error as Error | undefined)?.message ?? String(error);
  if (code === "SQLITE_FULL") return "the disk or the database is full";
  if (code.startsWith("SQLITE_BUSY") || code.startsWith("SQLITE_LOCKED")) return "the database is locked by another process or connection";
  if (code.startsWith("SQLITE_READONLY")) return "the database file or its directory is read-only";
  if (code === "SQLITE_PERM" || code.startsWith("SQLITE_AUTH")) return "permission denied";
  if (code.startsWith("SQLITE_CORRUPT")) return "the database file is damaged";
  if (code === "SQLITE_NOTADB") return "the file is not an SQLite database";
  if (code.startsWith("SQLITE_IOERR")) return `a disk read or write failed (${message})`;
  if (code.startsWith("SQLITE_CANTOPEN")) return "the database file cannot be opened";
  return message;
}

/** A `storage_error` saying which operation failed (e.g. "Storing the exchange") and why. */
export function storageError(what: string, error: unknown): ClawError {
  if (error instanceof ClawError) return error;
  return new ClawError("storage_error", `${what} failed: ${describeSqliteFailure(error)}.`, { cause: error });
}
