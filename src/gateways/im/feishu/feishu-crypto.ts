// Feishu's event crypto: the X-Lark-Signature check over the raw body and the AES-256-CBC `encrypt` envelope.
import crypto from "node:crypto";

/** hex(sha256(timestamp + nonce + encrypt_key ‖ raw body)): over the bytes received, never a re-serialised JSON. */
export function feishuSignature(timestamp: string, nonce: string, encryptKey: string, rawBody: Buffer): string {
  return crypto
    .createHash("sha256")
    .update(Buffer.from(timestamp + nonce + encryptKey, "utf8"))
    .update(rawBody)
    .digest("hex");
}

/** Whether `signature` (the header) is the one this body was signed with, compared in constant time. */
export function verifyFeishuSignature(signature: string, timestamp: string, nonce: string, encryptKey: string, rawBody: Buffer): boolean {
  const expected = Buffer.from(feishuSignature(timestamp, nonce, encryptKey, rawBody), "utf8");
  const given = Buffer.from(signature.toLowerCase(), "utf8");
  return given.length === expected.length && crypto.timingSafeEqual(given, expected);
}

/** The `encrypt` field's plaintext: key sha256(encrypt_key), iv = the first 16 bytes, AES-256-CBC with PKCS#7. Throws when it is not. */
export function decryptFeishuPayload(encrypt: string, encryptKey: string): string {
  const key = crypto.createHash("sha256").update(encryptKey, "utf8").digest();
  const bytes = Buffer.from(encrypt, "base64");
  // At least the iv and one block, whole blocks only: anything else is not something Feishu sent.
  if (bytes.length < 32 || bytes.length % 16 !== 0) throw new Error("the encrypted payload is not whole AES blocks");
  const decipher = crypto.createDecipheriv("aes-256-cbc", key, bytes.subarray(0, 16));
  return Buffer.concat([decipher.update(bytes.subarray(16)), decipher.final()]).toString("utf8");
}

/** Constant-time equality of two strings (the verification token). */
export function sameSecret(given: string, expected: string): boolean {
  const a = crypto.createHash("sha256").update(given, "utf8").digest();
  const b = crypto.createHash("sha256").update(expected, "utf8").digest();
  return crypto.timingSafeEqual(a, b);
}
