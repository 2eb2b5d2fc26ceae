// Revoked tokens, persisted in the node's database: by token id (jti) or by subject; checked by every authenticator.
import { createHash } from "node:crypto";
import type Database from "better-sqlite3";
import type { Principal } from "../core/types.js";
import type { SqliteDatabase } from "../store/database.js";
import { storageError } from "../store/storage-error.js";

/** What was revoked: one token (its jti), or every token of a subject issued up to the revocation. */
export type Revocation =
  | { kind: "jti"; jti: string; revokedAt: number; expiresAt: number | undefined }
  | { kind: "subject"; subjectDigest: string; revokedAt: number; expiresAt: number | undefined };

interface RevocationRow {
  kind: "jti" | "subject";
  value: string;
  revoked_at: number;
  expires_at: number | null;
}

/** Longest token id accepted for a revocation (a jti is an opaque id; a longer one is a mistake or an attack). */
export const maxJtiLength = 256;

/** The form a revoked subject is kept in: hex SM3 of its UTF-8 bytes (as the audit ledger keeps an erased subject). */
export function subjectDigest(subject: string): string {
  return createHash("sm3").update(subject, "utf8").digest("hex");
}

/**
 * The revoked token ids and subjects, kept in memory (checked on every request) and in table `revoked_tokens`
 * (a restart keeps them). A subject is stored as its SM3 digest: the list holds no personal text. An entry is
 * forgotten once its `expiresAt` has passed (the token would be refused as expired anyway).
 */
export class RevocationList {
  private readonly tokens = new Map<string, Revocation>();
  private readonly subjects = new Map<string, Revocation>();
  private readonly listeners = new Set<(revocation: Revocation) => void>();
  private readonly upsert: Database.Statement;
  private readonly purge: Database.Statement;

  constructor(
    database: SqliteDatabase,
    private readonly now: () => number = Date.now,
  ) {
    this.upsert = database.prepare(
      `INSERT INTO revoked_tokens (kind, value, revoked_at, expires_at) VALUES (?, ?, ?, ?)
       ON CONFLICT (kind, value) DO UPDATE SET revoked_at = excluded.revoked_at, expires_at = excluded.expires_at`,
    );
    this.purge = database.prepare("DELETE FROM revoked_tokens WHERE expires_at IS NOT NULL AND expires_at <= ?");
    this.forgetExpired();
    for (const row of database.prepare("SELECT kind, value, revoked_at, expires_at FROM revoked_tokens").all() as RevocationRow[]) {
      this.remember(toRevocation(row));
    }
  }

  /** Revokes one token by its id; `expiresAt` (epoch ms, the token's exp) lets the entry be forgotten after it. */
  revokeToken(jti: string, expiresAt?: number): Revocation {
    return this.add({ kind: "jti", jti, revokedAt: this.now(), expiresAt });
  }

  /** Revokes every token of a subject issued up to now (by `iat`; a token without `iat` is refused too). */
  revokeSubject(subject: string, expiresAt?: number): Revocation {
    return this.add({ kind: "subject", subjectDigest: subjectDigest(subject), revokedAt: this.now(), expiresAt });
  }

  /** Why the principal's token is revoked, or undefined when it is not. */
  revoked(principal: Principal): string | undefined {
    const jti = principal.claims.jti;
    if (typeof jti === "string" && this.isLive(this.tokens.get(jti))) return "token revoked";
    if (this.subjects.size === 0) return undefined;
    const entry = this.subjects.get(subjectDigest(principal.subject));
    return entry && this.isLive(entry) && RevocationList.applies(entry, principal) ? "token revoked" : undefined;
  }

  /** Called after each revocation (open WebSocket connections close at once); returns the unsubscribe function. */
  subscribe(listener: (revocation: Revocation) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Whether a revocation applies to this principal (its jti, or its subject and a token issued before it). */
  static applies(revocation: Revocation, principal: Principal): boolean {
    if (revocation.kind === "jti") return principal.claims.jti === revocation.jti;
    if (subjectDigest(principal.subject) !== revocation.subjectDigest) return false;
    const issuedAt = principal.claims.iat;
    // iat is in seconds: a token issued in the same second as the revocation is revoked with it.
    return typeof issuedAt !== "number" || issuedAt * 1000 <= revocation.revokedAt;
  }

  /** Entries in memory (tests, status). */
  get size(): number {
    return this.tokens.size + this.subjects.size;
  }

  /** Deletes the entries whose token has expired, from memory and the table. */
  forgetExpired(): void {
    const now = this.now();
    for (const map of [this.tokens, this.subjects]) {
      for (const [key, entry] of map) if (entry.expiresAt !== undefined && entry.expiresAt <= now) map.delete(key);
    }
    try {
      this.purge.run(now);
    } catch {
      // Only housekeeping: the next revocation tries again.
    }
  }

  private add(revocation: Revocation): Revocation {
    const value = revocation.kind === "jti" ? revocation.jti : revocation.subjectDigest;
    try {
      this.upsert.run(revocation.kind, value, revocation.revokedAt, revocation.expiresAt ?? null);
    } catch (error) {
      throw storageError("Storing the revocation", error);
    }
    this.remember(revocation);
    this.forgetExpired();
    for (const listener of [...this.listeners]) {
      try {
        listener(revocation);
      } catch {
        // A listener (a connection closing) owns its errors.
      }
    }
    return revocation;
  }

  private remember(revocation: Revocation): void {
    if (revocation.kind === "jti") this.tokens.set(revocation.jti, revocation);
    else this.subjects.set(revocation.subjectDigest, revocation);
  }

  private isLive(entry: Revocation | undefined): boolean {
    return entry !== undefined && (entry.expiresAt === undefined || entry.expiresAt > this.now());
  }
}

function toRevocation(row: RevocationRow): Revocation {
  const expiresAt = row.expires_at ?? undefined;
  return row.kind === "jti"
    ? { kind: "jti", jti: row.value, revokedAt: row.revoked_at, expiresAt }
    : { kind: "subject", subjectDigest: row.value, revokedAt: row.revoked_at, expiresAt };
}
