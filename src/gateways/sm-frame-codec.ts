// The encrypted-link codec (`encryption: {type: sm}`): the first client message is the SM2 hello, every later one an SM4-GCM record.
import type { LinkEncryptionConfig } from "../config/schema.js";
import { ClawError, toClawError } from "../core/errors.js";
import type { Sm2KeyPair } from "../security/gm/gm-crypto.js";
import { loadSm2KeyPair } from "../security/gm/sm2-key-files.js";
import { acceptClientHello, type SmRecordLayer } from "../security/gm/sm-link.js";
import { jsonFrameCodecFactory, type FrameCodec, type FrameCodecFactory, type DecodedFrame } from "./frame-codec.js";
import type { ServerFrame } from "./frame-session.js";
import type { GatewayContext } from "./gateway.js";

/** "binary": records are binary messages (WebSocket); "text": records are base64 text (a line-based transport such as tcp-ndjson). */
export type RecordTransport = "binary" | "text";

const base64Pattern = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** Server side of one link. Before the handshake, only the client hello is accepted and only error frames leave (in plain JSON). */
export class SmFrameCodec implements FrameCodec {
  private records: SmRecordLayer | undefined;
  /** Set after a fatal error: nothing more is opened. */
  private broken = false;

  constructor(
    private readonly staticKeys: Sm2KeyPair,
    private readonly transport: RecordTransport = "binary",
  ) {}

  get established(): boolean {
    return this.records !== undefined;
  }

  encode(frame: ServerFrame): string | Buffer {
    if (!this.records) return JSON.stringify(frame);
    const record = this.records.seal(JSON.stringify(frame));
    return this.transport === "text" ? record.toString("base64") : record;
  }

  decode(data: Buffer): DecodedFrame {
    if (this.broken) return { error: new ClawError("secure_link_failed", "The encrypted link has failed."), fatal: true };
    try {
      if (this.records) return { text: this.records.open(this.transport === "text" ? fromBase64(data) : data) };
      const accepted = acceptClientHello(data.toString("utf8"), this.staticKeys);
      this.records = accepted.records;
      return { reply: accepted.reply };
    } catch (error) {
      this.broken = true;
      const clawError = error instanceof ClawError ? error : new ClawError("secure_link_failed", "The encrypted link failed.", { cause: toClawError(error) });
      return { error: clawError, fatal: true };
    }
  }
}

export function smFrameCodecFactory(staticKeys: Sm2KeyPair, transport: RecordTransport = "binary"): FrameCodecFactory {
  return () => new SmFrameCodec(staticKeys, transport);
}

/**
 * A gateway's codecs for its `encryption` option: plain JSON without one; with `{type: sm}` the SM link, its static
 * key loaded from the configured files or generated once into the data directory (logged), and its public key.
 */
export function linkCodecs(encryption: LinkEncryptionConfig | undefined, context: GatewayContext, transport: RecordTransport): { codecs: FrameCodecFactory; publicKey?: string } {
  if (!encryption) return { codecs: jsonFrameCodecFactory };
  const { private_key: privateKey, public_key: publicKey } = encryption;
  const loaded = loadSm2KeyPair({ privateKey, publicKey, baseDir: context.baseDir, dataDir: context.dataDir ?? context.baseDir });
  if (loaded.generated) context.logger.info({ file: loaded.generated, public_key: loaded.keys.publicKey }, "generated the SM2 link key");
  return { codecs: smFrameCodecFactory(loaded.keys, transport), publicKey: loaded.keys.publicKey };
}

function fromBase64(data: Buffer): Buffer {
  const text = data.toString("latin1").trim();
  if (!base64Pattern.test(text)) throw new ClawError("secure_link_failed", "Not a sealed record of this link (base64 expected).");
  return Buffer.from(text, "base64");
}
