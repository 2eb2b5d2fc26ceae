// Opens the SQLite database under data_dir (WAL) and applies migrations in order.
import fs from "node:fs";
import path from "node:path";
import Database from "better-sqlite3";

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
];

export function openDatabase(dataDir: string): SqliteDatabase {
  fs.mkdirSync(dataDir, { recursive: true });
  const database = new Database(path.join(dataDir, "clawbot.db"));
  database.pragma("journal_mode = WAL");
  database.pragma("synchronous = NORMAL");
  database.pragma("busy_timeout = 5000");
  migrate(database);
  return database;
}

function migrate(database: SqliteDatabase): void {
  const current = database.pragma("user_version", { simple: true }) as number;
  for (let version = current; version < migrations.length; version += 1) {
    database.transaction(() => {
      database.exec(migrations[version] as string);
      database.pragma(`user_version = ${version + 1}`);
    })();
  }
}
