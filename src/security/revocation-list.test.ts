import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import type { Principal } from "../core/types.js";
import { openDatabase, type SqliteDatabase } from "../store/database.js";
import { RevocationList, subjectDigest, type Revocation } from "./revocation-list.js";

const principal = (subject: string, claims: Record<string, unknown>): Principal => ({ subject, roles: [], scopes: [], claims: { sub: subject, ...claims } });

describe("RevocationList", () => {
  const opened: SqliteDatabase[] = [];
  const open = (dataDir: string) => {
    const database = openDatabase(dataDir);
    opened.push(database);
    return database;
  };
  afterEach(() => {
    for (const database of opened.splice(0)) database.close();
  });

  it("refuses a revoked jti and keeps it across a reopen of the database", () => {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "clawbot-revocations-"));
    const list = new RevocationList(open(dataDir));
    expect(list.revoked(principal("alice", { jti: "t-1" }))).toBeUndefined();
    list.revokeToken("t-1");
    expect(list.revoked(principal("alice", { jti: "t-1" }))).toBe("token revoked");
    expect(list.revoked(principal("alice", { jti: "t-2" }))).toBeUndefined();
    expect(list.revoked(principal("alice", {}))).toBeUndefined();
    opened.pop()?.close();
    const reopened = new RevocationList(open(dataDir));
    expect(reopened.revoked(principal("alice", { jti: "t-1" }))).toBe("token revoked");
  });

  it("forgets an entry once its token has expired, in memory and in the table", () => {
    let now = 1_000_000;
    const database = open(fs.mkdtempSync(path.join(os.tmpdir(), "clawbot-revocations-")));
    const list = new RevocationList(database, () => now);
    list.revokeToken("short", now + 5_000);
    list.revokeToken("kept");
    expect(list.revoked(principal("bob", { jti: "short" }))).toBe("token revoked");
    now += 5_000;
    expect(list.revoked(principal("bob", { jti: "short" }))).toBeUndefined();
    list.forgetExpired();
    expect(list.size).toBe(1);
    expect(database.prepare("SELECT value FROM revoked_tokens").all()).toEqual([{ value: "kept" }]);
  });

  it("revokes a subject's tokens issued up to the revocation, not later ones, and stores only the subject's digest", () => {
    const now = 2_000_000_000_000;
    const database = open(fs.mkdtempSync(path.join(os.tmpdir(), "clawbot-revocations-")));
    const list = new RevocationList(database, () => now);
    list.revokeSubject("carol@example.org");
    expect(list.revoked(principal("carol@example.org", { iat: now / 1000 - 60 }))).toBe("token revoked");
    expect(list.revoked(principal("carol@example.org", {}))).toBe("token revoked");
    expect(list.revoked(principal("carol@example.org", { iat: now / 1000 + 1 }))).toBeUndefined();
    expect(list.revoked(principal("dave", { iat: now / 1000 - 60 }))).toBeUndefined();
    expect(database.prepare("SELECT kind, value FROM revoked_tokens").all()).toEqual([{ kind: "subject", value: subjectDigest("carol@example.org") }]);
  });

  it("tells its subscribers of each revocation, and RevocationList.applies matches it to principals", () => {
    const list = new RevocationList(open(fs.mkdtempSync(path.join(os.tmpdir(), "clawbot-revocations-"))));
    const seen: Revocation[] = [];
    const stop = list.subscribe((revocation) => seen.push(revocation));
    const revocation = list.revokeToken("t-9");
    expect(seen).toEqual([revocation]);
    expect(RevocationList.applies(revocation, principal("erin", { jti: "t-9" }))).toBe(true);
    expect(RevocationList.applies(revocation, principal("erin", { jti: "t-8" }))).toBe(false);
    stop();
    list.revokeToken("t-10");
    expect(seen).toHaveLength(1);
  });
});
