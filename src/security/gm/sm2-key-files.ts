// The server's static SM2 key pair for encrypted links: read from hex or PEM files, or generated once into the data directory (0600).
import fs from "node:fs";
import path from "node:path";
import { ClawError } from "../../core/errors.js";
import { generateSm2KeyPair, isSm2PublicKey, sm2PublicKeyOf, type Sm2KeyPair } from "./gm-crypto.js";
import { sm2PrivateKeyFromPem, sm2PublicKeyFromPem } from "../sm2-key.js";

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
  else hex = fromPem(file, () => sm2PrivateKeyFromPem(text)?.privateKey);
  if (!hex || /^0+$/.test(hex)) throw keyError(`${file} holds no SM2 private key (64 hex digits or PEM).`);
  return hex;
}

/** 04‖x‖y hex (130 digits), or the uncompressed point of a PEM SubjectPublicKeyInfo. */
export function readPublicKey(file: string): string {
  const text = readText(file);
  let hex: string | undefined;
  if (/^04[0-9a-f]{128}$/i.test(text)) hex = text.toLowerCase();
  else hex = fromPem(file, () => sm2PublicKeyFromPem(text));
  if (!hex || !isSm2PublicKey(hex)) throw keyError(`${file} holds no SM2 public key (04‖x‖y hex or PEM).`);
  return hex;
}

/** A key read from PEM by the one SM2 PEM reader (src/security/sm2-key.ts, shared with SM2 JWTs); a malformed one is a key error. */
function fromPem(file: string, read: () => string | undefined): string | undefined {
  try {
    return read();
  } catch (error) {
    throw keyError(`${file}: ${(error as Error).message}`);
  }
}
