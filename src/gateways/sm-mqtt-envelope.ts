// The per-message SM envelope of the MQTT gateway (docs/protocol.md "Encrypted MQTT messages (SM)"): SM2 ECDH to the static key, SM3 KDF, SM4-GCM.
import { randomBytes } from "node:crypto";
import { ClawError } from "../core/errors.js";
import { generateSm2KeyPair, isSm2PublicKey, kdf, sm2SharedX, sm3, sm4GcmOpen, sm4GcmSeal, type Sm2KeyPair } from "../security/gm/gm-crypto.js";

export const smMqttLabel = Buffer.from("clawbot-sm-mqtt/1", "ascii");
export const requestEnvelopeVersion = 0x01;
export const replyEnvelopeVersion = 0x02;
/** version (1) ‖ ephemeral public key 04‖x‖y (65) ‖ random (32). */
export const requestHeaderLength = 98;
/** version (1) ‖ request tag (16) ‖ run id (16) ‖ sequence (4, big-endian). */
export const replyHeaderLength = 37;
const tagLength = 16;

/** What a request's replies are sealed with: the request tag (its random's first 16 bytes) and the 32-byte reply secret. */
export interface ReplySecret {
  tag: Buffer;
  secret: Buffer;
}

function envelopeError(message: string): ClawError {
  return new ClawError("secure_link_failed", message);
}

/** KDF(Z ‖ SM3(label ‖ header ‖ server static public key), 60) → k_req (16) ‖ iv_req (12) ‖ reply secret (32). */
function requestKeys(sharedX: Buffer, header: Buffer, serverPublicKey: string): { key: Buffer; nonce: Buffer; reply: ReplySecret } {
  const material = kdf(Buffer.concat([sharedX, sm3(Buffer.concat([smMqttLabel, header, Buffer.from(serverPublicKey, "hex")]))]), 60);
  const tag = Buffer.from(header.subarray(66, 82));
  return { key: material.subarray(0, 16), nonce: material.subarray(16, 28), reply: { tag, secret: Buffer.from(material.subarray(28, 60)) } };
}

/** The server side: opens one sealed request message; throws secure_link_failed when it is not one sealed for this key. */
export function openSealedRequest(payload: Buffer, staticKeys: Sm2KeyPair): { text: string; reply: ReplySecret } {
  if (payload.length < requestHeaderLength + tagLength || payload[0] !== requestEnvelopeVersion) {
    throw envelopeError("Not a sealed request: this gateway takes only SM-encrypted messages (docs/protocol.md).");
  }
  const header = payload.subarray(0, requestHeaderLength);
  const ephemeral = header.subarray(1, 66).toString("hex");
  if (!isSm2PublicKey(ephemeral)) throw envelopeError("Sealed request: the ephemeral key is not an SM2 public key.");
  const { key, nonce, reply } = requestKeys(sm2SharedX(staticKeys.privateKey, ephemeral), header, staticKeys.publicKey);
  const plaintext = sm4GcmOpen(key, nonce, payload.subarray(requestHeaderLength), header);
  if (!plaintext) throw envelopeError("A sealed request failed authentication (altered, or sealed for another server key).");
  return { text: plaintext.toString("utf8"), reply };
}

/** KDF(reply secret ‖ run id, 28) → k_rep (16) ‖ iv_rep (12). */
function runKeys(reply: ReplySecret, runId: Buffer): { key: Buffer; iv: Buffer } {
  const material = kdf(Buffer.concat([reply.secret, runId]), 28);
  return { key: material.subarray(0, 16), iv: material.subarray(16, 28) };
}

function replyNonce(iv: Buffer, sequence: number): Buffer {
  const nonce = Buffer.from(iv);
  for (let index = 0; index < 4; index += 1) nonce[8 + index] = (nonce[8 + index] as number) ^ ((sequence >>> (8 * (3 - index))) & 0xff);
  return nonce;
}

/** Seals the replies of one run of a request: a fresh random run id (a resumed run gets a new one), sequence from 0. */
export class SealedReplies {
  private readonly runId = randomBytes(16);
  private readonly key: Buffer;
  private readonly iv: Buffer;
  private sequence = 0;

  constructor(private readonly reply: ReplySecret) {
    ({ key: this.key, iv: this.iv } = runKeys(reply, this.runId));
  }

  seal(text: string): Buffer {
    const header = Buffer.alloc(replyHeaderLength);
    header[0] = replyEnvelopeVersion;
    this.reply.tag.copy(header, 1);
    this.runId.copy(header, 17);
    header.writeUInt32BE(this.sequence, 33);
    const sealed = sm4GcmSeal(this.key, replyNonce(this.iv, this.sequence), Buffer.from(text, "utf8"), header);
    this.sequence += 1;
    return Buffer.concat([header, sealed]);
  }
}

/** Where the reply secret of a sealed request is kept in its ledger record (the stored request JSON), for a resumed run. */
const replySecretField = "sm_reply";

/** The request JSON a ledger keeps: the frame, and for a sealed request its reply secret (hex tag ‖ secret; no token). */
export function storedRequestText(frame: object, reply: ReplySecret | undefined): string {
  return JSON.stringify({ ...frame, ...(reply ? { [replySecretField]: Buffer.concat([reply.tag, reply.secret]).toString("hex") } : {}) });
}

/** A stored request's frame JSON without the reply secret of a sealed one, and that secret. */
export function storedRequest(stored: string): { request: string; replySecret?: ReplySecret } {
  try {
    const value = JSON.parse(stored) as Record<string, unknown>;
    if (typeof value !== "object" || value === null || !(replySecretField in value)) return { request: stored };
    const { [replySecretField]: secret, ...frame } = value;
    const replySecret = decodeReplySecret(secret);
    return { request: JSON.stringify(frame), ...(replySecret ? { replySecret } : {}) };
  } catch {
    return { request: stored };
  }
}

function decodeReplySecret(hex: unknown): ReplySecret | undefined {
  if (typeof hex !== "string" || !/^[0-9a-f]{96}$/.test(hex)) return undefined;
  const bytes = Buffer.from(hex, "hex");
  return { tag: bytes.subarray(0, 16), secret: bytes.subarray(16) };
}

/**
 * The client side of one request: `seal` makes the request message; `open` reads its replies in order. A reply
 * from a new run (the node resumed the request after a restart) starts over at sequence 0. Only the holder of the
 * server's static private key can seal a reply that opens: that is how the client knows the server.
 */
export class SmMqttRequest {
  private readonly ephemeral = generateSm2KeyPair();
  private readonly random = randomBytes(32);
  private reply: ReplySecret | undefined;
  private run: { id: Buffer; key: Buffer; iv: Buffer; next: number } | undefined;

  constructor(private readonly serverPublicKey: string) {
    if (!isSm2PublicKey(serverPublicKey)) throw envelopeError("The server key is not an SM2 public key (04‖x‖y hex).");
  }

  /** The request tag its replies carry (bytes 1–16 of each reply). */
  get tag(): Buffer {
    return this.random.subarray(0, 16);
  }

  seal(text: string): Buffer {
    const header = Buffer.concat([Buffer.from([requestEnvelopeVersion]), Buffer.from(this.ephemeral.publicKey, "hex"), this.random]);
    const { key, nonce, reply } = requestKeys(sm2SharedX(this.ephemeral.privateKey, this.serverPublicKey), header, this.serverPublicKey);
    this.reply = reply;
    return Buffer.concat([header, sm4GcmSeal(key, nonce, Buffer.from(text, "utf8"), header)]);
  }

  /** Whether a reply message carries this request's tag. */
  matches(payload: Buffer): boolean {
    return payload.length >= replyHeaderLength && payload[0] === replyEnvelopeVersion && payload.subarray(1, 17).equals(this.tag);
  }

  /** The reply's frame text; undefined for a duplicate (a sequence already read); throws secure_link_failed on anything else wrong. */
  open(payload: Buffer): string | undefined {
    if (!this.reply) throw envelopeError("Seal the request before opening replies.");
    if (!this.matches(payload) || payload.length < replyHeaderLength + tagLength) throw envelopeError("Not a sealed reply to this request.");
    const header = payload.subarray(0, replyHeaderLength);
    const runId = header.subarray(17, 33);
    const sequence = header.readUInt32BE(33);
    const run = this.run && this.run.id.equals(runId) ? this.run : { id: Buffer.from(runId), ...runKeys(this.reply, runId), next: 0 };
    if (sequence < run.next) return undefined;
    if (sequence > run.next) throw envelopeError(`Sealed reply ${sequence} arrived before ${run.next} (lost or reordered).`);
    const plaintext = sm4GcmOpen(run.key, replyNonce(run.iv, sequence), payload.subarray(replyHeaderLength), header);
    if (!plaintext) throw envelopeError("A sealed reply failed authentication (altered, or not from the holder of the server key).");
    run.next += 1;
    this.run = run;
    return plaintext.toString("utf8");
  }
}
