// Tests for deleting a subject's rows and saved states: its own only, and nothing left in the freed pages.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { openDatabase } from "./database.js";
import { deleteSubjectRows, deleteSubjectStates, withSecureDelete } from "./erasure.js";
import { RequestLedger } from "./request-ledger.js";
import { SessionRepository } from "./session-repository.js";

describe("subject erasure in the store", () => {
  it("deletes the subject's sessions and MQTT ledger entries, not another's, with secure_delete restored afterwards", () => {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "clawbot-erasure-"));
    const database = openDatabase(dataDir);
    const sessions = new SessionRepository(database);
    sessions.appendExchange("victim", "a", "VICTIM-QUESTION-1", "answer");
    sessions.appendExchange("victim", "b", "VICTIM-QUESTION-2", "answer");
    sessions.appendExchange("other", "a", "other question", "answer");
    const ledger = new RequestLedger(database);
    const entry = (owner: string, requestId: string) => ({ gateway: "mqtt", owner, requestId, request: `{"message":"${owner} mqtt"}`, principal: { subject: owner, roles: [], scopes: [], claims: {} }, replyTopic: `res/${owner}` });
    ledger.accept(entry("victim", "r1"));
    ledger.accept(entry("other", "r1"));

    const counts = withSecureDelete(database, () => deleteSubjectRows(database, "victim"));
    expect(counts).toEqual({ sessions: 2, messages: 4, mqtt_requests: 1 });
    expect(sessions.history("victim", "a")).toEqual([]);
    expect(sessions.history("other", "a")).toHaveLength(2);
    expect(ledger.state("mqtt", "victim", "r1")).toBeUndefined();
    expect(ledger.state("mqtt", "other", "r1")).toBe("accepted");
    expect(database.pragma("secure_delete", { simple: true })).toBe(0);
    database.pragma("wal_checkpoint(TRUNCATE)");
    database.close();
    expect(fs.readFileSync(path.join(dataDir, "clawbot.db")).includes("VICTIM-QUESTION")).toBe(false);
  });

  it("deletes the saved sequence states of the subject's conversations only", () => {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "clawbot-erasure-"));
    const states = path.join(dataDir, "sequence-states");
    fs.mkdirSync(states);
    const save = (stem: string, conversation: string) => {
      fs.writeFileSync(path.join(states, `${stem}.json`), JSON.stringify({ conversation, fingerprint: "f", bytes: 1, savedAt: 1 }));
      fs.writeFileSync(path.join(states, `${stem}.state`), "x");
    };
    save("one", JSON.stringify(["victim", "a"]));
    save("two", JSON.stringify(["victim", "b"]));
    save("three", JSON.stringify(["other", "victim"]));
    fs.writeFileSync(path.join(states, "broken.json"), "{not json");
    expect(deleteSubjectStates(dataDir, "victim")).toBe(2);
    expect(fs.readdirSync(states).sort()).toEqual(["broken.json", "three.json", "three.state"]);
    expect(deleteSubjectStates(path.join(dataDir, "missing"), "victim")).toBe(0);
  });
});
