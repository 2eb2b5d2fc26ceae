// An independent SM toolkit for interop tests, built on the `sm-crypto` package (never the project's own module):
// SM2 keys, signatures and Diffie-Hellman, SM3 and its GM/T 0003 KDF, and SM4-GCM written here on sm-crypto's SM4 block.
import { createRequire } from "node:module";

interface SmCrypto {
  sm2: {
    generateKeyPairHex(): { privateKey: string; publicKey: string };
    doVerifySignature(message: number[], signature: string, publicKey: string, options: { hash: boolean; userId?: string }): boolean;
  };
  sm3(input: number[]): string;
  sm4: { encrypt(input: number[], key: number[], options: { padding: "none"; output: "array" }): number[] };
}
const require = createRequire(import.meta.url);
export const { sm2, sm3, sm4 } = require("sm-crypto") as SmCrypto;
// sm-crypto's own curve and big integers, for the Diffie-Hellman product.
const smUtils = require(require.resolve("sm-crypto").replace(/index\.js$/, "sm2/utils.js")) as {
  getGlobalCurve(): { decodePointHex(hex: string): { multiply(k: unknown): { getX(): { toBigInteger(): { toString(radix: number): string } } } } };
};
const { BigInteger } = createRequire(require.resolve("sm-crypto"))("jsbn") as { BigInteger: new (hex: string, radix: number) => unknown };

export const bytes = (hex: string): number[] => [...Buffer.from(hex, "hex")];
export const sm3Bytes = (input: number[]): number[] => bytes(sm3(input));

/** GM/T 0003 KDF: SM3(input ‖ counter) for counter 1, 2, … */
export function kdf(input: number[], length: number): number[] {
  const out: number[] = [];
  for (let counter = 1; out.length < length; counter += 1) out.push(...sm3Bytes([...input, (counter >>> 24) & 255, (counter >>> 16) & 255, (counter >>> 8) & 255, counter & 255]));
  return out.slice(0, length);
}

/** The x coordinate (32 bytes) of privateKey × publicKey on the SM2 curve. */
export function sharedX(privateKeyHex: string, publicKeyHex: string): number[] {
  const point = smUtils.getGlobalCurve().decodePointHex(publicKeyHex).multiply(new BigInteger(privateKeyHex, 16));
  return bytes(point.getX().toBigInteger().toString(16).padStart(64, "0"));
}

export const block = (key: number[], input: number[]): number[] => sm4.encrypt(input, key, { padding: "none", output: "array" });
export const toBig = (input: number[]): bigint => BigInt(`0x${Buffer.from(input).toString("hex") || "0"}`);
export const fromBig = (value: bigint): number[] => bytes(value.toString(16).padStart(32, "0"));

/** Multiplication in GF(2^128) as GCM defines it (NIST SP 800-38D, algorithm 1). */
function gfMultiply(x: bigint, y: bigint): bigint {
  let z = 0n;
  let v = y;
  for (let bit = 127n; bit >= 0n; bit -= 1n) {
    if ((x >> bit) & 1n) z ^= v;
    v = v & 1n ? (v >> 1n) ^ (0xe1n << 120n) : v >> 1n;
  }
  return z;
}

/** SM4-GCM from the SM4 block cipher: CTR from inc32(J0), GHASH over AAD and ciphertext, tag = E(J0) ⊕ S. */
export function gcm(key: number[], nonce: number[], input: number[], aad: number[], decrypt: boolean): { output: number[]; tag: number[] } {
  const h = toBig(block(key, new Array(16).fill(0)));
  const counterBlock = (counter: number) => [...nonce, (counter >>> 24) & 255, (counter >>> 16) & 255, (counter >>> 8) & 255, counter & 255];
  const output: number[] = [];
  for (let at = 0; at < input.length; at += 16) {
    const stream = block(key, counterBlock(2 + at / 16));
    input.slice(at, at + 16).forEach((value, index) => output.push(value ^ (stream[index] as number)));
  }
  const ciphertext = decrypt ? input : output;
  const padded = (data: number[]) => [...data, ...new Array((16 - (data.length % 16)) % 16).fill(0)];
  const lengths = fromBig((BigInt(aad.length * 8) << 64n) | BigInt(ciphertext.length * 8));
  const all = [...padded(aad), ...padded(ciphertext), ...lengths];
  let s = 0n;
  for (let at = 0; at < all.length; at += 16) s = gfMultiply(s ^ toBig(all.slice(at, at + 16)), h);
  return { output, tag: fromBig(toBig(block(key, counterBlock(1))) ^ s) };
}
