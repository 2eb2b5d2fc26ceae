// The audit chain's canonical record: sorted-key JSON with every text field replaced by its SM3 digest, and its hash.
import { createHash } from "node:crypto";

/** What the first record chains from. */
export const genesisHash = "0".repeat(64);

/**
 * The body keys holding free text a client provided or a model wrote (and personal data such as the subject and the
 * client's address). The chain covers their SM3 digests, not the texts, so a text can be erased later (replaced by
 * `{"sm3": "<its digest>"}`) without breaking the chain. Each holds a string, null, or `{"sm3": "<hex>"}`.
 */
export const textFields: readonly string[] = Object.freeze([
  "input",
  "output",
  "subject",
  "session",
  "client_request_id",
  "error_message",
  "reason",
  "remote",
  "by",
  "arguments",
]);

/** A text field's erased form: its SM3 digest. */
export interface ErasedText {
  sm3: string;
}

/** Hex SM3 of a string's UTF-8 bytes. */
export function sm3Hex(text: string): string {
  return createHash("sm3").update(text, "utf8").digest("hex");
}

/** A text field's value as stored: the text, its erased form, or null. */
export function isErasedText(value: unknown): value is ErasedText {
  return (
    value !== null &&
    typeof value === "object" &&
    !Array.isArray(value) &&
    Object.keys(value).length === 1 &&
    typeof (value as ErasedText).sm3 === "string" &&
    /^[0-9a-f]{64}$/.test((value as ErasedText).sm3)
  );
}

/** The erased form of a text (what `audit.content: hash` stores and erasure leaves). */
export function eraseText(text: string): ErasedText {
  return { sm3: sm3Hex(text) };
}

/**
 * The body as the chain sees it: every text field's string replaced by `{"sm3": digest}` (already erased ones and
 * null kept). Throws when a text field holds anything else: such a body cannot be chained or verified.
 */
export function erasedBody(body: Record<string, unknown>): Record<string, unknown> {
  const result: Record<string, unknown> = { ...body };
  for (const field of textFields) {
    if (!(field in body)) continue;
    const value = body[field];
    if (typeof value === "string") result[field] = eraseText(value);
    else if (value !== null && !isErasedText(value)) throw new TypeError(`audit text field "${field}" must be a string, null or {"sm3": "<64 hex digits>"}`);
  }
  return result;
}

/**
 * Deterministic JSON (the JSON Canonicalization Scheme, RFC 8785, for the values a record holds): object keys sorted
 * by UTF-16 code units, no whitespace, strings and numbers as JSON.stringify writes them; undefined members left out.
 */
export function canonicalJson(value: unknown): string {
  if (value === null) return "null";
  switch (typeof value) {
    case "string":
    case "boolean":
      return JSON.stringify(value);
    case "number":
      if (!Number.isFinite(value)) throw new TypeError("canonical JSON cannot hold a non-finite number");
      return JSON.stringify(value);
    case "object": {
      if (Array.isArray(value)) return `[${value.map((item) => (item === undefined ? "null" : canonicalJson(item))).join(",")}]`;
      const entries = Object.keys(value as object)
        .filter((key) => (value as Record<string, unknown>)[key] !== undefined)
        .sort()
        .map((key) => `${JSON.stringify(key)}:${canonicalJson((value as Record<string, unknown>)[key])}`);
      return `{${entries.join(",")}}`;
    }
    default:
      throw new TypeError(`canonical JSON cannot hold a ${typeof value}`);
  }
}

/** What a record's hash covers (besides the previous hash). */
export interface ChainedFields {
  sequence: number;
  recordedAt: number;
  kind: string;
  body: Record<string, unknown>;
}

/** `{"body":…,"kind":…,"recorded_at":…,"sequence":…}` with the body's texts as digests. */
export function canonicalRecord(record: ChainedFields): string {
  return canonicalJson({ sequence: record.sequence, recorded_at: record.recordedAt, kind: record.kind, body: erasedBody(record.body) });
}

/** Hex SM3 of the previous hash's 64 hex characters followed by the canonical record, both as UTF-8 bytes. */
export function chainHash(previousHash: string, record: ChainedFields): string {
  return createHash("sm3").update(previousHash, "utf8").update(canonicalRecord(record), "utf8").digest("hex");
}
