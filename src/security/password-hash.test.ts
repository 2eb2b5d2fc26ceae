// hashPassword / verifyPassword: round trips, wrong passwords, tampered and foreign strings, parameters refused before any work.
import * as crypto from "node:crypto";
import { describe, expect, it, vi } from "vitest";
// scrypt spied on: an absurd hash must be refused before any key is derived.
vi.mock("node:crypto", async (importOriginal) => {
  const original = await importOriginal<typeof import("node:crypto")>();
  return { ...original, scrypt: vi.fn(original.scrypt) };
});

import { defaultScryptParameters, formatPasswordHash, hashPassword, hashWith, parsePasswordHash, verifyPassword } from "./password-hash.js";

describe("password hashes", () => {
  it("round-trips, in the documented format with the default cost", async () => {
    const encoded = await hashPassword("correct horse battery staple");
    expect(encoded).toMatch(/^scrypt\$32768\$8\$1\$[A-Za-z0-9_-]{22}\$[A-Za-z0-9_-]{43}$/);
    const parsed = parsePasswordHash(encoded);
    expect(parsed).toMatchObject({ ...defaultScryptParameters });
    expect([parsed.salt.length, parsed.hash.length]).toEqual([16, 32]);
    expect(formatPasswordHash(parsed)).toBe(encoded);
    expect(await verifyPassword("correct horse battery staple", encoded)).toBe(true);
  });

  it("refuses a wrong password, and salts each hash", async () => {
    const [first, second] = await Promise.all([hashPassword("s3cret-password"), hashPassword("s3cret-password")]);
    expect(first).not.toBe(second);
    expect(await verifyPassword("s3cret-passwore", first)).toBe(false);
    expect(await verifyPassword("", first)).toBe(false);
    expect(await verifyPassword("s3cret-password ", second)).toBe(false);
  });

  it("matches the same password in another Unicode normal form", async () => {
    const composed = "p\u00e4sswort-\u4e2d\u6587";
    const encoded = await hashPassword(composed);
    expect(await verifyPassword(composed.normalize("NFD"), encoded)).toBe(true);
  });

  it("is false for tampered and foreign strings", async () => {
    const encoded = await hashPassword("a-good-password");
    const fields = encoded.split("$");
    const flipped = (text: string) => (text[0] === "A" ? "B" : "A") + text.slice(1);
    const tampered = [
      [...fields.slice(0, 4), flipped(fields[4] as string), fields[5]].join("$"),
      [...fields.slice(0, 5), flipped(fields[5] as string)].join("$"),
      encoded.replace("$8$", "$9$"),
      encoded.replace("scrypt$32768", "scrypt$16384"),
    ];
    const foreign = [
      "",
      "a-good-password",
      "$2b$12$R9h/cIPz0gi.URNNX3kh2OPST9/PgBkqquzi.Ss7KIUgO2t0jWMUW",
      "$argon2id$v=19$m=65536,t=3,p=4$c29tZXNhbHQ$RdescudvJCsgt3ub+b+dWRWJTmaaJObG",
      "pbkdf2_sha256$600000$salt$hash",
      `${encoded}$extra`,
      encoded.replace("scrypt", "SCRYPT"),
      encoded.replace("$8$", "$08$"),
      encoded.replace("$1$", "$-1$"),
      encoded.replace("$1$", "$1.5$"),
      `${encoded.slice(0, -1)}=`,
      `${encoded}${"A".repeat(600)}`,
    ];
    for (const text of [...tampered, ...foreign]) expect(await verifyPassword("a-good-password", text), text).toBe(false);
  });

  it("refuses absurd parameters at once, without computing", async () => {
    const salt = Buffer.alloc(16, 1).toString("base64url");
    const hash = Buffer.alloc(32, 2).toString("base64url");
    const absurd = [
      [2 ** 40, 8, 1],
      [2 ** 21, 8, 1],
      [2 ** 20, 8, 1], // 1 GiB
      [2 ** 15, 1024, 1],
      [2 ** 15, 8, 1_000_000],
      [2 ** 20, 2, 16], // too much work
      [2 ** 15 + 1, 8, 1], // not a power of two
      [2, 8, 1], // too weak to accept
      [99_999_999_999_999, 8, 1],
    ];
    vi.mocked(crypto.scrypt).mockClear();
    for (const [N, r, p] of absurd) {
      const text = `scrypt$${N}$${r}$${p}$${salt}$${hash}`;
      expect(() => parsePasswordHash(text), text).toThrow(/scrypt|whole number/);
      expect(await verifyPassword("whatever", text)).toBe(false);
    }
    expect(crypto.scrypt).not.toHaveBeenCalled();
    // The spy does see a hash within the limits.
    expect(await verifyPassword("whatever", `scrypt$16384$8$1$${salt}$${hash}`)).toBe(false);
    expect(crypto.scrypt).toHaveBeenCalledTimes(1);
  });

  it("refuses salts and keys outside their sizes, and hashing with absurd parameters", async () => {
    const good = Buffer.alloc(32, 2).toString("base64url");
    expect(() => parsePasswordHash(`scrypt$32768$8$1$${Buffer.alloc(4).toString("base64url")}$${good}`)).toThrow(/salt/);
    expect(() => parsePasswordHash(`scrypt$32768$8$1$${good}$${Buffer.alloc(200).toString("base64url")}`)).toThrow();
    await expect(hashWith("x", { N: 2 ** 24, r: 8, p: 1 }, Buffer.alloc(16))).rejects.toThrow(/power of two/);
  });
});
