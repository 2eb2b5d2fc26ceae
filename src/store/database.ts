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

/** A database that lives only as long as the process (for gateways built without the daemon's store). */
export function openMemoryDatabase(): SqliteDatabase {
  const database = new Database(":memory:");
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
