// WXBizMsgCrypt: WeCom's (and DingTalk event callbacks') AES-256-CBC message layout and SHA-1 signature, with node:crypto.
import { createCipheriv, createDecipheriv, createHash, randomBytes, timingSafeEqual } from "node:crypto";
import { ClawError } from "../../../core/errors.js";

// The layout pads to 32-byte blocks (pad values 1..32), not AES's 16, so padding is handled here.
const BLOCK = 32;

/** The 32-byte AES key from a 43-character EncodingAESKey (base64 without its "="). */
export function aesKeyOf(encodingAesKey: string): Buffer {
  if (!/^[A-Za-z0-9+/]{43}$/.test(encodingAesKey)) {
    throw new ClawError("bad_request", "encoding_aes_key must be 43 base64 characters.");
  }
  const key = Buffer.from(`${encodingAesKey}=`, "base64");
  if (key.length !== 32) throw new ClawError("bad_request", "encoding_aes_key must decode to 32 bytes.");
  return key;
}

/** hex(sha1(sort([token, timestamp, nonce, encrypted]).join(""))): the msg_signature of a delivery. */
export function messageSignature(token: string, timestamp: string, nonce: string, encrypted: string): string {
  const parts = [token, timestamp, nonce, encrypted].sort();
  return createHash("sha1").update(parts.join(""), "utf8").digest("hex");
}

/** Whether `signature` is the msg_signature of these values (constant-time compare). */
export function verifySignature(token: string, timestamp: string, nonce: string, encrypted: string, signature: string): boolean {
  const expected = Buffer.from(messageSignature(token, timestamp, nonce, encrypted), "utf8");
  const given = Buffer.from(signature.toLowerCase(), "utf8");
  return given.length === expected.length && timingSafeEqual(given, expected);
}

function refuse(message: string): never {
  throw new ClawError("bad_request", message);
}

/**
 * Decrypts `base64(AES-256-CBC(random16 ‖ len(BE) ‖ message ‖ receiveId))`. When `receiveId` is given (the corp id
 * for apps, the AppKey/corpId for DingTalk), the one inside must equal it.
 */
export function decryptMessage(options: { encodingAesKey: string; encrypted: string; receiveId?: string }): { message: string; receiveId: string } {
  const key = aesKeyOf(options.encodingAesKey);
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(options.encrypted)) refuse("The encrypted message is not base64.");
  const cipherText = Buffer.from(options.encrypted, "base64");
  if (cipherText.length === 0 || cipherText.length % 16 !== 0) refuse("The encrypted message has a wrong length.");
  const decipher = createDecipheriv("aes-256-cbc", key, key.subarray(0, 16));
  decipher.setAutoPadding(false);
  const plain = Buffer.concat([decipher.update(cipherText), decipher.final()]);
  const pad = plain[plain.length - 1]!;
  if (pad < 1 || pad > BLOCK || pad > plain.length) refuse("The encrypted message has bad padding.");
  for (let index = plain.length - pad; index < plain.length; index++) {
    if (plain[index] !== pad) refuse("The encrypted message has bad padding.");
  }
  const content = plain.subarray(0, plain.length - pad);
  if (content.length < 20) refuse("The encrypted message is too short.");
  const length = content.readUInt32BE(16);
  if (20 + length > content.length) refuse("The encrypted message has a wrong inner length.");
  const message = content.subarray(20, 20 + length).toString("utf8");
  const receiveId = content.subarray(20 + length).toString("utf8");
  if (options.receiveId !== undefined && receiveId !== options.receiveId) refuse("The encrypted message is for another receiver.");
  return { message, receiveId };
}

/** Encrypts `message` for `receiveId` (the platform side, and passive replies); `random` (16 bytes) for tests. */
export function encryptMessage(options: { encodingAesKey: string; message: string; receiveId: string; random?: Buffer }): string {
  const key = aesKeyOf(options.encodingAesKey);
  const random = options.random ?? randomBytes(16);
  if (random.length !== 16) throw new RangeError("random must be 16 bytes");
  const body = Buffer.from(options.message, "utf8");
  const length = Buffer.alloc(4);
  length.writeUInt32BE(body.length);
  const content = Buffer.concat([random, length, body, Buffer.from(options.receiveId, "utf8")]);
  const pad = BLOCK - (content.length % BLOCK);
  const cipher = createCipheriv("aes-256-cbc", key, key.subarray(0, 16));
  cipher.setAutoPadding(false);
  return Buffer.concat([cipher.update(Buffer.concat([content, Buffer.alloc(pad, pad)])), cipher.final()]).toString("base64");
}
