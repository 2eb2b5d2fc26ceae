// The encrypted link (docs/protocol.md "Encrypted link (SM)"): SM2-signed ephemeral key agreement, then SM4-GCM records with per-direction sequence numbers.
import { randomBytes } from "node:crypto";
import { ClawError } from "../../core/errors.js";
import { generateSm2KeyPair, isSm2PublicKey, kdf, sm2SharedX, sm2Sign, sm2Verify, sm3, sm4GcmOpen, sm4GcmSeal, type Sm2KeyPair } from "./gm-crypto.js";

export const smLinkVersion = 1;
/** The first bytes of the signed transcript and of every record's associated data. */
const transcriptLabel = Buffer.from("clawbot-sm-link/1", "ascii");
const recordVersion = 0x01;
const clientToServer = 0x01;
const serverToClient = 0x02;
const tagLength = 16;

export interface ClientHello {
  type: "sm-hello";
  version: number;
  /** The client's ephemeral SM2 public key, 04‖x‖y hex. */
  key: string;
  /** 32 random bytes, hex. */
  random: string;
}

export interface ServerHello extends ClientHello {
  /** The server's static SM2 public key, 04‖x‖y hex (the one a client pins). */
  server_key: string;
  /** SM2 signature (r‖s hex, default user id) by the static key over the transcript. */
  signature: string;
}

function linkError(message: string): ClawError {
  return new ClawError("secure_link_failed", message);
}

/** One direction's key, nonce base and sequence number. */
class RecordDirection {
  private sequence = 0n;
  constructor(
    private readonly key: Buffer,
    private readonly nonceBase: Buffer,
    private readonly direction: number,
  ) {}

  private next(): { nonce: Buffer; associatedData: Buffer } {
    const counter = Buffer.alloc(8);
    counter.writeBigUInt64BE(this.sequence);
    this.sequence += 1n;
    const nonce = Buffer.from(this.nonceBase);
    for (let index = 0; index < 8; index += 1) nonce[4 + index] = (nonce[4 + index] as number) ^ (counter[index] as number);
    return { nonce, associatedData: Buffer.concat([Buffer.from([recordVersion, this.direction]), counter]) };
  }

  seal(plaintext: Buffer): Buffer {
    const { nonce, associatedData } = this.next();
    return Buffer.concat([Buffer.from([recordVersion]), sm4GcmSeal(this.key, nonce, plaintext, associatedData)]);
  }

  /** Opens the next record; a replayed, reordered, altered or foreign record fails its tag and throws secure_link_failed. */
  open(record: Buffer): Buffer {
    if (record.length < 1 + tagLength || record[0] !== recordVersion) throw linkError("Not a sealed record of this link.");
    const { nonce, associatedData } = this.next();
    const plaintext = sm4GcmOpen(this.key, nonce, record.subarray(1), associatedData);
    if (!plaintext) throw linkError("A sealed frame failed authentication (altered, replayed or out of order).");
    return plaintext;
  }
}

/** Both directions of an established link. */
export class SmRecordLayer {
  constructor(
    private readonly sending: RecordDirection,
    private readonly receiving: RecordDirection,
  ) {}

  seal(text: string): Buffer {
    return this.sending.seal(Buffer.from(text, "utf8"));
  }

  open(record: Buffer): string {
    return this.receiving.open(record).toString("utf8");
  }
}

function transcript(client: ClientHello, server: { key: string; random: string; server_key: string }): Buffer {
  return Buffer.concat([
    transcriptLabel,
    Buffer.from(client.key, "hex"),
    Buffer.from(client.random, "hex"),
    Buffer.from(server.key, "hex"),
    Buffer.from(server.random, "hex"),
    Buffer.from(server.server_key, "hex"),
  ]);
}

/** KDF(Z ‖ SM3(transcript), 56) → k_c2s ‖ k_s2c ‖ iv_c2s ‖ iv_s2c. */
function recordLayer(sharedX: Buffer, signedTranscript: Buffer, role: "client" | "server"): SmRecordLayer {
  const keys = kdf(Buffer.concat([sharedX, sm3(signedTranscript)]), 56);
  const clientDirection = () => new RecordDirection(keys.subarray(0, 16), keys.subarray(32, 44), clientToServer);
  const serverDirection = () => new RecordDirection(keys.subarray(16, 32), keys.subarray(44, 56), serverToClient);
  return role === "client" ? new SmRecordLayer(clientDirection(), serverDirection()) : new SmRecordLayer(serverDirection(), clientDirection());
}

function parseHello(text: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw linkError("Expected an sm-hello frame (JSON) to open the encrypted link.");
  }
  if (typeof value !== "object" || value === null || (value as { type?: unknown }).type !== "sm-hello") {
    throw linkError("Expected an sm-hello frame to open the encrypted link.");
  }
  const hello = value as Record<string, unknown>;
  if (hello.version !== smLinkVersion) throw linkError(`Unsupported encrypted link version (this node speaks ${smLinkVersion}).`);
  if (typeof hello.key !== "string" || !isSm2PublicKey(hello.key)) throw linkError("sm-hello: key is not an SM2 public key (04‖x‖y hex).");
  if (typeof hello.random !== "string" || !/^[0-9a-f]{64}$/i.test(hello.random)) throw linkError("sm-hello: random must be 32 bytes of hex.");
  return hello;
}

/** The server side: answers a client hello with its signed hello, and keeps the record layer. */
export function acceptClientHello(text: string, staticKeys: Sm2KeyPair): { reply: string; records: SmRecordLayer } {
  const client = parseHello(text) as unknown as ClientHello;
  const ephemeral = generateSm2KeyPair();
  const server = { key: ephemeral.publicKey, random: randomBytes(32).toString("hex"), server_key: staticKeys.publicKey };
  const signed = transcript(client, server);
  const hello: ServerHello = { type: "sm-hello", version: smLinkVersion, ...server, signature: sm2Sign(signed, staticKeys) };
  return { reply: JSON.stringify(hello), records: recordLayer(sm2SharedX(ephemeral.privateKey, client.key), signed, "server") };
}

/** The client side: its hello, then `finish` checks the server's signed hello (and the pinned key) and derives the records. */
export class SmLinkClient {
  private readonly ephemeral = generateSm2KeyPair();
  readonly hello: ClientHello = { type: "sm-hello", version: smLinkVersion, key: this.ephemeral.publicKey, random: randomBytes(32).toString("hex") };

  /** @param pinnedServerKey the server's static public key (04‖x‖y hex); any key is accepted when left out (trust on first use). */
  constructor(private readonly pinnedServerKey?: string) {}

  finish(text: string): { records: SmRecordLayer; serverKey: string } {
    const server = parseHello(text);
    if (typeof server.server_key !== "string" || !isSm2PublicKey(server.server_key)) throw linkError("sm-hello: server_key is not an SM2 public key.");
    if (this.pinnedServerKey && server.server_key.toLowerCase() !== this.pinnedServerKey.toLowerCase()) {
      throw linkError("The server's SM2 key is not the pinned one.");
    }
    const signed = transcript(this.hello, server as unknown as ServerHello);
    if (typeof server.signature !== "string" || !sm2Verify(signed, server.signature, server.server_key)) {
      throw linkError("The server's handshake signature does not verify.");
    }
    return { records: recordLayer(sm2SharedX(this.ephemeral.privateKey, server.key as string), signed, "client"), serverKey: server.server_key };
  }
}
