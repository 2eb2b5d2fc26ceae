// The knowledge base file's tables (migrated by PRAGMA user_version) and opening it with sqlite-vec loaded.
import fs from "node:fs";
import Database from "better-sqlite3";
import * as sqliteVec from "sqlite-vec";
import { ClawError } from "../core/errors.js";
import { applyMigrations, openPrivateSqliteFile, type SqliteDatabase } from "../store/database.js";
import { storageError } from "../store/storage-error.js";

const migrations: string[] = [
  // Documents (one per collection and id), their chunks, the FTS5 index of the chunks' segmented terms (contentless:
  // the text lives in kb_chunks; rowid = chunk id), the chunks' vectors (little-endian float32 BLOBs, read by chunk id
  // to rescore candidates), the files ingested whole (with their content hash) and settings such as the embedding
  // model. AUTOINCREMENT: a chunk id is never reused, so a citation never names another text. kb_vector_changes logs the
  // chunks whose vector was removed, replaced or written after newer ones, so the HNSW index file (vector-index.ts)
  // catches up incrementally: new chunk ids beyond the index's last one, plus the logged ones.
  `CREATE TABLE kb_documents (
     id INTEGER PRIMARY KEY,
     collection TEXT NOT NULL,
     doc_id TEXT NOT NULL,
     source TEXT NOT NULL,
     file TEXT NOT NULL,
     hash TEXT NOT NULL,
     metadata TEXT NOT NULL,
     updated_at INTEGER NOT NULL,
     UNIQUE (collection, doc_id)
   );
   CREATE INDEX kb_documents_file ON kb_documents (collection, file);
   CREATE TABLE kb_chunks (
     id INTEGER PRIMARY KEY AUTOINCREMENT,
     document_id INTEGER NOT NULL REFERENCES kb_documents (id),
     position INTEGER NOT NULL,
     text TEXT NOT NULL,
     tokens INTEGER NOT NULL,
     has_vector INTEGER NOT NULL DEFAULT 0
   );
   CREATE INDEX kb_chunks_document ON kb_chunks (document_id, position);
   CREATE INDEX kb_chunks_without_vector ON kb_chunks (id) WHERE has_vector = 0;
   CREATE VIRTUAL TABLE kb_chunk_fts USING fts5(
     terms, content = '', contentless_delete = 1, tokenize = 'porter unicode61 remove_diacritics 2'
   );
   CREATE TABLE kb_chunk_embeddings (
     chunk_id INTEGER PRIMARY KEY,
     embedding BLOB NOT NULL
   );
   CREATE TABLE kb_vector_changes (
     sequence INTEGER PRIMARY KEY AUTOINCREMENT,
     chunk_id INTEGER NOT NULL
   );
   CREATE TABLE kb_files (
     collection TEXT NOT NULL,
     file TEXT NOT NULL,
     hash TEXT NOT NULL,
     PRIMARY KEY (collection, file)
   ) WITHOUT ROWID;
   CREATE TABLE kb_meta (
     key TEXT PRIMARY KEY,
     value TEXT NOT NULL
   ) WITHOUT ROWID`,
  // The index's terms with their document frequencies (an fts5vocab view: no storage), for planning a query.
  `CREATE VIRTUAL TABLE kb_chunk_terms USING fts5vocab(kb_chunk_fts, 'row')`,
];

export const knowledgeSchemaVersion = migrations.length;

/**
 * How long a statement waits for a lock another connection holds. The ingest (CLI) writes while the node reads; in
 * WAL mode readers never wait for the writer, so this only bounds two writers (two ingests) or a checkpoint.
 */
export const knowledgeBusyTimeoutMs = 5000;

/**
 * Opens the knowledge base file with sqlite-vec loaded: WAL, synchronous NORMAL, files 0600 in a private directory,
 * migrated. `readonly` opens an existing, migrated file for reading only. Throws a `storage_error` naming the file.
 */
export function openKnowledgeSqlite(file: string, readonly: boolean): SqliteDatabase {
  if (readonly && !fs.existsSync(file)) {
    throw new ClawError(
      "storage_error",
      `The knowledge base ${file} does not exist: create it with \`clawbot kb ingest <file-or-dir>…\` (or set knowledge.database to the file it wrote).`,
    );
  }
  let database: SqliteDatabase | undefined;
  try {
    if (readonly) {
      database = new Database(file, { readonly: true, fileMustExist: true });
      database.pragma(`busy_timeout = ${knowledgeBusyTimeoutMs}`);
    } else {
      database = openPrivateSqliteFile(file, knowledgeBusyTimeoutMs);
    }
    sqliteVec.load(database);
    const version = database.pragma("user_version", { simple: true }) as number;
    if (version > knowledgeSchemaVersion) {
      throw new ClawError("storage_error", `The knowledge base ${file} was written by a newer Clawbot (schema ${version}; this one knows ${knowledgeSchemaVersion}).`);
    }
    if (readonly && version < knowledgeSchemaVersion) {
      throw new ClawError(
        "storage_error",
        `The knowledge base ${file} is ${version === 0 ? "empty or not a knowledge base" : "of an older schema"}: run \`clawbot kb ingest\` on it to create or upgrade it.`,
      );
    }
    if (!readonly) applyMigrations(database, migrations);
    return database;
  } catch (error) {
    database?.close();
    if (error instanceof ClawError) throw error;
    throw storageError(`Opening the knowledge base ${file}`, error);
  }
}
