// The national (GM/T) primitives behind one small module: SM3 and SM4-ECB/CBC/CTR from node:crypto; SM2 and SM4-GCM from sm-crypto-v2.
import { createCipheriv, createDecipheriv, createHash, createHmac } from "node:crypto";
import { kdf as sm3Kdf, sm2, sm4 } from "sm-crypto-v2";

/** The default user id of GM/T 0009 (used in Z_A when signing): "1234567812345678". */
export const defaultUserId = "1234567812345678";

/** An SM2 key pair as hex: the private scalar (64 hex digits) and the uncompressed public point (04‖x‖y, 130 hex digits). */
export interface Sm2KeyPair {
  privateKey: string;
  publicKey: string;
}

export function sm3(data: Uint8Array | string): Buffer {
  return createHash("sm3").update(data).digest();
}

export function hmacSm3(key: Uint8Array, data: Uint8Array): Buffer {
  return createHmac("sm3", key).update(data).digest();
}

/** The key derivation function of GM/T 0003.4 (SM3 over Z ‖ counter, counter from 1, big-endian 32 bits). */
export function kdf(input: Uint8Array, length: number): Buffer {
  return Buffer.from(sm3Kdf(input, length));
}

export type Sm4Mode = "ecb" | "cbc" | "ctr";

/** SM4 (GB/T 32907) in ECB, CBC or CTR mode via node:crypto; no padding (ECB/CBC input must be whole 16-byte blocks). */
export function sm4Encrypt(mode: Sm4Mode, key: Uint8Array, data: Uint8Array, iv?: Uint8Array): Buffer {
  const cipher = createCipheriv(`sm4-${mode}`, key, mode === "ecb" ? null : (iv ?? null));
  cipher.setAutoPadding(false);
  return Buffer.concat([cipher.update(data), cipher.final()]);
}

export function sm4Decrypt(mode: Sm4Mode, key: Uint8Array, data: Uint8Array, iv?: Uint8Array): Buffer {
  const decipher = createDecipheriv(`sm4-${mode}`, key, mode === "ecb" ? null : (iv ?? null));
  decipher.setAutoPadding(false);
  return Buffer.concat([decipher.update(data), decipher.final()]);
}

/** SM4-GCM (16-byte key, 12-byte nonce): ciphertext ‖ 16-byte tag. */
export function sm4GcmSeal(key: Uint8Array, nonce: Uint8Array, plaintext: Uint8Array, associatedData: Uint8Array): Buffer {
  const sealed = sm4.encrypt(plaintext, key, { mode: "gcm", iv: nonce, associatedData, output: "array", outputTag: true });
  return Buffer.concat([sealed.output, sealed.tag as Uint8Array]);
}

/** Opens ciphertext ‖ tag; undefined when the tag does not verify (altered data, wrong key, nonce or associated data). */
export function sm4GcmOpen(key: Uint8Array, nonce: Uint8Array, sealed: Uint8Array, associatedData: Uint8Array): Buffer | undefined {
  if (sealed.length < 16) return undefined;
  try {
    const ciphertext = sealed.subarray(0, sealed.length - 16);
    const tag = sealed.subarray(sealed.length - 16);
    return Buffer.from(sm4.decrypt(ciphertext, key, { mode: "gcm", iv: nonce, associatedData, tag, output: "array" }));
  } catch {
    return undefined;
  }
}

export function generateSm2KeyPair(): Sm2KeyPair {
  const pair = sm2.generateKeyPairHex();
  return { privateKey: pair.privateKey, publicKey: pair.publicKey };
}

export function sm2PublicKeyOf(privateKey: string): string {
  return sm2.getPublicKeyFromPrivateKey(privateKey);
}

/** Whether hex is an uncompressed SM2 public point (04‖x‖y) on the curve. */
export function isSm2PublicKey(hex: string): boolean {
  if (!/^04[0-9a-f]{128}$/i.test(hex)) return false;
  try {
    return sm2.verifyPublicKey(hex);
  } catch {
    return false;
  }
}

/** SM2 signature (GM/T 0003.2) over SM3(Z_A ‖ message), Z_A with the default user id; r‖s, 128 hex digits. */
export function sm2Sign(message: Uint8Array, keys: Sm2KeyPair, userId = defaultUserId): string {
  return sm2.doSignature(message, keys.privateKey, { hash: true, publicKey: keys.publicKey, userId });
}

export function sm2Verify(message: Uint8Array, signature: string, publicKey: string, userId = defaultUserId): boolean {
  if (!/^[0-9a-f]{128}$/i.test(signature)) return false;
  try {
    return sm2.doVerifySignature(message, signature, publicKey, { hash: true, userId });
  } catch {
    return false;
  }
}

/** SM2 Diffie-Hellman: the x coordinate (32 bytes) of privateKey·publicKey. */
export function sm2SharedX(privateKey: string, publicKey: string): Buffer {
  const point = sm2.ecdh(privateKey, publicKey, true);
  return Buffer.from(point.subarray(1, 33));
}

/** The GM/T 0003.3 key exchange (both parties hold static and ephemeral key pairs), for callers that need it. */
export function sm2KeyExchange(
  own: Sm2KeyPair,
  ownEphemeral: Sm2KeyPair,
  peerPublicKey: string,
  peerEphemeralPublicKey: string,
  length: number,
  responder: boolean,
): Buffer {
  return Buffer.from(sm2.calculateSharedKey(own, ownEphemeral, peerPublicKey, peerEphemeralPublicKey, length, responder));
}
