// scrypt password hashes (`scrypt$N$r$p$salt$hash`, base64url) for `auth.users`: hashing, bounded parsing, constant-time checking.
import { randomBytes, scrypt, timingSafeEqual, type ScryptOptions } from "node:crypto";

/** The cost of a parsed or new hash: N (CPU/memory cost, a power of two), r (block size), p (parallelism). */
export interface ScryptParameters {
  N: number;
  r: number;
  p: number;
}

export interface PasswordHash extends ScryptParameters {
  salt: Buffer;
  hash: Buffer;
}

/** What hashPassword writes: N = 2^15, r = 8, p = 1 (32 MiB, about 0.1 s), a 16-byte salt, a 32-byte key. */
export const defaultScryptParameters: Readonly<ScryptParameters> = Object.freeze({ N: 2 ** 15, r: 8, p: 1 });
const saltBytes = 16;
const keyBytes = 32;

/**
 * What a hash may ask for, so that a hostile or mistyped `password_hash` cannot make the node spend minutes or
 * gigabytes on one login: N a power of two from 2^14 (weaker hashes are refused too) to 2^20, memory (128·N·r) at
 * most 256 MiB, work (N·r·p) at most 32 times the default's.
 */
export const scryptLimits = Object.freeze({ minN: 2 ** 14, maxN: 2 ** 20, maxR: 32, maxP: 16, maxMemoryBytes: 256 * 1024 * 1024, maxWork: 2 ** 23 });
const saltRange = { min: 8, max: 64 };
const hashRange = { min: 16, max: 64 };

/** Hashes a password (its Unicode NFC form, so the same password typed on another system matches). */
export async function hashPassword(password: string): Promise<string> {
  return hashWith(password, defaultScryptParameters, randomBytes(saltBytes));
}

/** A hash of `password` with these parameters and salt (the login's stand-in for unknown users uses its users' cost). */
export async function hashWith(password: string, parameters: ScryptParameters, salt: Buffer): Promise<string> {
  checkParameters(parameters);
  const hash = await derive(password, parameters, salt, keyBytes);
  return formatPasswordHash({ ...parameters, salt, hash });
}

/**
 * Whether `password` matches `encoded`. Anything that is not a hash within scryptLimits (tampered, foreign, absurd
 * parameters) is false at once, never an exception and never an expensive computation.
 */
export async function verifyPassword(password: string, encoded: string): Promise<boolean> {
  let parsed: PasswordHash;
  try {
    parsed = parsePasswordHash(encoded);
  } catch {
    return false;
  }
  const derived = await derive(password, parsed, parsed.salt, parsed.hash.length);
  return timingSafeEqual(derived, parsed.hash);
}

/** Reads `scrypt$N$r$p$salt$hash`; throws an Error saying what is wrong (the config check shows it). */
export function parsePasswordHash(encoded: string): PasswordHash {
  if (typeof encoded !== "string" || encoded.length > 512) throw new Error("not a password hash (too long)");
  const fields = encoded.split("$");
  const [scheme, n, r, p, salt, hash] = fields;
  if (fields.length !== 6 || scheme !== "scrypt") throw new Error("not a password hash: expected scrypt$N$r$p$salt$hash");
  const parameters = { N: decimal(n, "N"), r: decimal(r, "r"), p: decimal(p, "p") };
  checkParameters(parameters);
  return { ...parameters, salt: base64url(salt, "salt", saltRange), hash: base64url(hash, "hash", hashRange) };
}

export function formatPasswordHash(parsed: PasswordHash): string {
  return ["scrypt", parsed.N, parsed.r, parsed.p, parsed.salt.toString("base64url"), parsed.hash.toString("base64url")].join("$");
}

function checkParameters({ N, r, p }: ScryptParameters): void {
  const limits = scryptLimits;
  if (!Number.isSafeInteger(N) || N < limits.minN || N > limits.maxN || (N & (N - 1)) !== 0) {
    throw new Error(`scrypt N must be a power of two from 2^14 to 2^20 (got ${N})`);
  }
  if (!Number.isSafeInteger(r) || r < 1 || r > limits.maxR) throw new Error(`scrypt r must be 1 to ${limits.maxR} (got ${r})`);
  if (!Number.isSafeInteger(p) || p < 1 || p > limits.maxP) throw new Error(`scrypt p must be 1 to ${limits.maxP} (got ${p})`);
  if (128 * N * r > limits.maxMemoryBytes) throw new Error(`scrypt N·r asks for more than ${limits.maxMemoryBytes / 2 ** 20} MiB`);
  if (N * r * p > limits.maxWork) throw new Error("scrypt N·r·p asks for too much work");
}

function decimal(text: string | undefined, name: string): number {
  // At most 8 digits: 2^20 has 7; a longer number is out of bounds anyway, and Number() of it could round.
  if (text === undefined || !/^[1-9]\d{0,7}$/.test(text)) throw new Error(`scrypt ${name} is not a whole number`);
  return Number(text);
}

function base64url(text: string | undefined, name: string, range: { min: number; max: number }): Buffer {
  if (text === undefined || !/^[A-Za-z0-9_-]+$/.test(text)) throw new Error(`the ${name} is not base64url`);
  const bytes = Buffer.from(text, "base64url");
  // Re-encoding must give the same text: no stray bits in a last character, so one hash has one spelling.
  if (bytes.toString("base64url") !== text) throw new Error(`the ${name} is not canonical base64url`);
  if (bytes.length < range.min || bytes.length > range.max) throw new Error(`the ${name} must be ${range.min} to ${range.max} bytes`);
  return bytes;
}

function derive(password: string, { N, r, p }: ScryptParameters, salt: Buffer, length: number): Promise<Buffer> {
  // node's default maxmem (32 MiB) is exactly the default cost's 128·N·r: raise it to what these parameters need.
  const options: ScryptOptions = { N, r, p, maxmem: 128 * N * r + 128 * r * p + 1024 * 1024 };
  return new Promise((resolve, reject) => {
    scrypt(Buffer.from(password.normalize("NFC"), "utf8"), salt, length, options, (error, key) => (error ? reject(error) : resolve(key)));
  });
}
