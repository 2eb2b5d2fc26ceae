// The request ledger: insert-or-ignore acceptance keyed by owner, the principal instead of a token, record-and-mark in one transaction, pruning, the migration.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import Database from "better-sqlite3";
import { describe, expect, it } from "vitest";
import { openDatabase, openMemoryDatabase } from "./database.js";
import { RequestLedger } from "./request-ledger.js";

const principal = { subject: "alice", roles: ["user"], scopes: ["chat"], claims: { sub: "alice", exp: 2_000_000_000 } };

describe("RequestLedger", () => {
  const entry = (requestId: string, gateway = "gateway-a", owner = "alice") => ({
    gateway,
    owner,
    requestId,
    request: `{"type":"chat","id":"${requestId}","message":"hi"}`,
    principal,
    expiresAt: 2_000_000_000_000,
    replyTopic: `clawbot/res/${owner}`,
  });

  it("accepts a request once per owner, lists it with its principal until answered, and keeps gateways apart", () => {
    const ledger = new RequestLedger(openMemoryDatabase());
    expect(ledger.accept({ ...entry("r1"), correlationData: Buffer.from("corr") })).toBe(true);
    expect(ledger.accept(entry("r1"))).toBe(false);
    expect(ledger.accept(entry("r1", "gateway-a", "bob"))).toBe(true);
    expect(ledger.accept(entry("r1", "gateway-b"))).toBe(true);
    expect(ledger.unanswered("gateway-a")).toMatchObject([
      { owner: "alice", requestId: "r1", state: "accepted", principal, expiresAt: 2_000_000_000_000, correlationData: Buffer.from("corr") },
      { owner: "bob", requestId: "r1", state: "accepted" },
    ]);
    ledger.markAnswered("gateway-a", "alice", "r1");
    expect(ledger.state("gateway-a", "alice", "r1")).toBe("answered");
    expect(ledger.state("gateway-a", "bob", "r1")).toBe("accepted");
    expect(ledger.unanswered("gateway-a")).toHaveLength(1);
    ledger.forget("gateway-b", "alice", "r1");
    expect(ledger.state("gateway-b", "alice", "r1")).toBeUndefined();
  });

  it("stores an exchange and marks its request recorded in one transaction: both or neither", () => {
    const database = openMemoryDatabase();
    database.exec("CREATE TABLE exchanges (text TEXT NOT NULL)");
    const ledger = new RequestLedger(database);
    ledger.accept(entry("r1"));
    ledger.accept(entry("r2"));
    const store = (text: string) => () => void database.prepare("INSERT INTO exchanges VALUES (?)").run(text);
    expect(() =>
      ledger.record("gateway-a", "alice", "r1", () => {
        store("half")();
        throw new Error("disk full");
      }, "{}"),
    ).toThrow("disk full");
    expect(database.prepare("SELECT COUNT(*) AS count FROM exchanges").get()).toEqual({ count: 0 });
    expect(ledger.state("gateway-a", "alice", "r1")).toBe("accepted");

    ledger.record("gateway-a", "alice", "r2", store("whole"), '{"type":"finish","id":"r2"}');
    expect(database.prepare("SELECT text FROM exchanges").all()).toEqual([{ text: "whole" }]);
    expect(ledger.unanswered("gateway-a").find((stored) => stored.requestId === "r2")).toMatchObject({ state: "recorded", finalFrame: '{"type":"finish","id":"r2"}' });
    ledger.markAnswered("gateway-a", "alice", "r2");
    expect(database.prepare("SELECT request, principal, final_frame FROM mqtt_request_ledger WHERE request_id = 'r2'").get()).toEqual({ request: "{}", principal: "{}", final_frame: null });
  });

  it("prunes only answered requests older than the retention", () => {
    let now = 1_000_000;
    const ledger = new RequestLedger(openMemoryDatabase(), () => now);
    ledger.accept(entry("old-answered"));
    ledger.accept(entry("old-accepted"));
    ledger.markAnswered("gateway-a", "alice", "old-answered");
    now += 60_000;
    ledger.accept(entry("new-answered"));
    ledger.markAnswered("gateway-a", "alice", "new-answered");
    expect(ledger.prune("gateway-a", 30_000)).toBe(1);
    expect(ledger.state("gateway-a", "alice", "old-answered")).toBeUndefined();
    expect(ledger.state("gateway-a", "alice", "old-accepted")).toBe("accepted");
    expect(ledger.state("gateway-a", "alice", "new-answered")).toBe("answered");
  });

  it("migrates an old ledger: answered records kept, stored requests with their tokens gone from the file", () => {
    const directory = fs.mkdtempSync(path.join(os.tmpdir(), "clawbot-ledger-"));
    try {
      const file = path.join(directory, "clawbot.db");
      const old = new Database(file);
      old.exec(`CREATE TABLE session_turns (owner TEXT NOT NULL, session TEXT NOT NULL, position INTEGER NOT NULL, role TEXT NOT NULL,
                  content TEXT NOT NULL, created_at INTEGER NOT NULL, PRIMARY KEY (owner, session, position)) WITHOUT ROWID;
                CREATE TABLE mqtt_requests (gateway TEXT NOT NULL, client TEXT NOT NULL, request_id TEXT NOT NULL, payload TEXT NOT NULL,
                  reply_topic TEXT NOT NULL, correlation_data BLOB NULL, state TEXT NOT NULL, received_at INTEGER NOT NULL,
                  PRIMARY KEY (gateway, client, request_id)) WITHOUT ROWID;
                PRAGMA user_version = 2;`);
      const insert = old.prepare("INSERT INTO mqtt_requests VALUES ('g', 'dev-1', ?, ?, 'clawbot/res/dev-1', NULL, ?, 1)");
      insert.run("done", '{"type":"chat","id":"done","message":"hi","token":"SECRET-TOKEN-OLD-1"}', "answered");
      insert.run("open", '{"type":"chat","id":"open","message":"hi","token":"SECRET-TOKEN-OLD-2"}', "accepted");
      old.close();
      const database = openDatabase(directory);
      const ledger = new RequestLedger(database);
      expect(ledger.state("g", "dev-1", "done")).toBe("answered");
      expect(ledger.state("g", "dev-1", "open")).toBeUndefined();
      database.pragma("wal_checkpoint(TRUNCATE)");
      database.close();
      const bytes = fs.readFileSync(file).toString("latin1");
      expect(bytes).not.toContain("SECRET-TOKEN-OLD");
    } finally {
      fs.rmSync(directory, { recursive: true, force: true });
    }
  });
});
