// The server's static SM2 key pair for encrypted links: read from hex or PEM files, or generated once into the data directory (0600).
import fs from "node:fs";
import path from "node:path";
import { ClawError } from "../../core/errors.js";
import { generateSm2KeyPair, isSm2PublicKey, sm2PublicKeyOf, type Sm2KeyPair } from "./gm-crypto.js";

export const generatedPrivateKeyFile = "sm2-link-key.hex";
export const generatedPublicKeyFile = "sm2-link-key.pub.hex";

export interface Sm2KeyFileOptions {
  /** Private key file (64 hex digits, or a PEM "EC PRIVATE KEY" / "PRIVATE KEY"); relative to baseDir. */
  privateKey?: string;
  /** Public key file (04‖x‖y hex, or a PEM "PUBLIC KEY"); optional, checked against the private key. */
  publicKey?: string;
  baseDir: string;
  /** Where a key pair is generated when no private key file is configured. */
  dataDir: string;
}

/** The key pair, and the file it was generated into (first start without key files) when it was. */
export function loadSm2KeyPair(options: Sm2KeyFileOptions): { keys: Sm2KeyPair; generated?: string } {
  if (options.privateKey) {
    const privateKey = readPrivateKey(path.resolve(options.baseDir, options.privateKey));
    const publicKey = sm2PublicKeyOf(privateKey);
    if (options.publicKey) {
      const configured = readPublicKey(path.resolve(options.baseDir, options.publicKey));
      if (configured.toLowerCase() !== publicKey.toLowerCase()) throw keyError(`${options.publicKey} is not the public key of ${options.privateKey}.`);
    }
    return { keys: { privateKey, publicKey } };
  }
  const file = path.join(options.dataDir, generatedPrivateKeyFile);
  if (fs.existsSync(file)) {
    const privateKey = readPrivateKey(file);
    return { keys: { privateKey, publicKey: sm2PublicKeyOf(privateKey) } };
  }
  const keys = generateSm2KeyPair();
  fs.mkdirSync(options.dataDir, { recursive: true, mode: 0o700 });
  fs.writeFileSync(file, `${keys.privateKey}\n`, { mode: 0o600, flag: "wx" });
  fs.writeFileSync(path.join(options.dataDir, generatedPublicKeyFile), `${keys.publicKey}\n`, { mode: 0o644 });
  return { keys, generated: file };
}

function keyError(message: string): ClawError {
  return new ClawError("bad_request", `SM2 key: ${message}`);
}

function readText(file: string): string {
  try {
    return fs.readFileSync(file, "utf8").trim();
  } catch (error) {
    throw keyError(`cannot read ${file}: ${(error as Error).message}`);
  }
}

/** 64 hex digits, or the 32-byte OCTET STRING after `version 1` in a SEC1 / PKCS#8 SM2 private key. */
export function readPrivateKey(file: string): string {
  const text = readText(file);
  let hex: string | undefined;
  if (/^[0-9a-f]{64}$/i.test(text)) hex = text.toLowerCase();
  else {
    const der = pemBody(text);
    const at = der ? der.indexOf(Buffer.from([0x02, 0x01, 0x01, 0x04, 0x20])) : -1;
    if (der && at >= 0 && der.length >= at + 37) hex = der.subarray(at + 5, at + 37).toString("hex");
  }
  if (!hex || /^0+$/.test(hex)) throw keyError(`${file} holds no SM2 private key (64 hex digits or PEM).`);
  return hex;
}

/** 04‖x‖y hex (130 digits), or the uncompressed point of a PEM SubjectPublicKeyInfo. */
export function readPublicKey(file: string): string {
  const text = readText(file);
  let hex: string | undefined;
  if (/^04[0-9a-f]{128}$/i.test(text)) hex = text.toLowerCase();
  else {
    const der = pemBody(text);
    const at = der ? der.lastIndexOf(Buffer.from([0x03, 0x42, 0x00, 0x04])) : -1;
    if (der && at >= 0 && der.length >= at + 3 + 65) hex = der.subarray(at + 3, at + 3 + 65).toString("hex");
  }
  if (!hex || !isSm2PublicKey(hex)) throw keyError(`${file} holds no SM2 public key (04‖x‖y hex or PEM).`);
  return hex;
}

function pemBody(text: string): Buffer | undefined {
  const match = /-----BEGIN [A-Z ]+-----([\s\S]+?)-----END [A-Z ]+-----/.exec(text);
  return match ? Buffer.from((match[1] as string).replace(/\s+/g, ""), "base64") : undefined;
}
