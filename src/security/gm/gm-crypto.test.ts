// Standard test vectors for the GM/T primitives (GB/T 32905 SM3, GB/T 32907 SM4, GM/T 0003.5 SM2) and round trips.
import { describe, expect, it } from "vitest";
import { sm2 } from "sm-crypto-v2";
import {
  generateSm2KeyPair,
  hmacSm3,
  isSm2PublicKey,
  kdf,
  sm2KeyExchange,
  sm2PublicKeyOf,
  sm2SharedX,
  sm2Sign,
  sm2Verify,
  sm3,
  sm4Decrypt,
  sm4Encrypt,
  sm4GcmOpen,
  sm4GcmSeal,
} from "./gm-crypto.js";

const hex = (text: string) => Buffer.from(text, "hex");

describe("SM3 (GB/T 32905)", () => {
  it('hashes "abc" to the standard value', () => {
    expect(sm3("abc").toString("hex")).toBe("66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0");
  });
  it("hashes the 64-byte example to the standard value", () => {
    expect(sm3("abcd".repeat(16)).toString("hex")).toBe("debe9ff92275b8a138604889c18e5a4d6fdb70e5387e5765293dcba39c0c5732");
  });
  it("HMAC-SM3 depends on the key", () => {
    expect(hmacSm3(hex("00"), Buffer.from("x")).equals(hmacSm3(hex("01"), Buffer.from("x")))).toBe(false);
  });
  it("the KDF is SM3(Z ‖ ct) with ct from 1", () => {
    const input = Buffer.from("shared");
    const expected = Buffer.concat([sm3(Buffer.concat([input, hex("00000001")])), sm3(Buffer.concat([input, hex("00000002")]))]);
    expect(kdf(input, 40).equals(expected.subarray(0, 40))).toBe(true);
  });
});

describe("SM4 (GB/T 32907)", () => {
  const key = hex("0123456789abcdeffedcba9876543210");
  it("encrypts the standard example block", () => {
    expect(sm4Encrypt("ecb", key, key).toString("hex")).toBe("681edf34d206965e86b3e94f536e4246");
    expect(sm4Decrypt("ecb", key, hex("681edf34d206965e86b3e94f536e4246")).equals(key)).toBe(true);
  });
  it("CBC and CTR round trip", () => {
    const iv = hex("fedcba98765432100123456789abcdef");
    const data = Buffer.alloc(48, 7);
    for (const mode of ["cbc", "ctr"] as const) expect(sm4Decrypt(mode, key, sm4Encrypt(mode, key, data, iv), iv).equals(data)).toBe(true);
  });
  it("GCM opens what it sealed and refuses an altered byte, nonce or associated data", () => {
    const nonce = Buffer.alloc(12, 1);
    const sealed = sm4GcmSeal(key, nonce, Buffer.from("hello"), hex("aa"));
    expect(sm4GcmOpen(key, nonce, sealed, hex("aa"))?.toString()).toBe("hello");
    const flipped = Buffer.from(sealed);
    flipped[0] = (flipped[0] as number) ^ 1;
    expect(sm4GcmOpen(key, nonce, flipped, hex("aa"))).toBeUndefined();
    expect(sm4GcmOpen(key, Buffer.alloc(12, 2), sealed, hex("aa"))).toBeUndefined();
    expect(sm4GcmOpen(key, nonce, sealed, hex("ab"))).toBeUndefined();
  });
});

describe("SM2 (GM/T 0003)", () => {
  // GM/T 0003.5 annex: signature example on the recommended curve, user id 1234567812345678, message "message digest".
  const privateKey = "3945208f7b2144b13f36e38ac6d39f95889393692860b51a42fb81ef4df7c5b8";
  const publicKey =
    "0409f9df311e5421a150dd7d161e4bc5c672179fad1833fc076bb08ff356f35020ccea490ce26775a52dc6ea718cc1aa600aed05fbf35e084a6632f6072da9ad13";
  const signature =
    "f5a03b0648d2c4630eeac513e1bb81a15944da3827d5b74143ac7eaceee720b3b1b6aa29df212fd8763182bc0d421ca1bb9038fd1f7f42d4840b69c485bbc1aa";
  const message = Buffer.from("message digest");

  it("derives the standard public key", () => {
    expect(sm2PublicKeyOf(privateKey)).toBe(publicKey);
  });
  it("verifies the standard signature and refuses it for another message", () => {
    expect(sm2Verify(message, signature, publicKey)).toBe(true);
    expect(sm2Verify(Buffer.from("message digesT"), signature, publicKey)).toBe(false);
  });
  it("with the standard k, signs to the standard r‖s", () => {
    const k = "59276e27d506861a16680f3ad9c02dccef3cc1fa3cdbe4ce6d54b80deac1bc21";
    const x1 = BigInt(`0x${sm2PublicKeyOf(k).slice(2, 66)}`);
    expect(sm2.doSignature(message, privateKey, { hash: true, publicKey, pointPool: [{ k: BigInt(`0x${k}`), x1 }] })).toBe(signature);
  });
  it("signs and verifies with a fresh key pair", () => {
    const keys = generateSm2KeyPair();
    expect(isSm2PublicKey(keys.publicKey)).toBe(true);
    expect(sm2Verify(message, sm2Sign(message, keys), keys.publicKey)).toBe(true);
    expect(sm2Verify(message, sm2Sign(message, keys), generateSm2KeyPair().publicKey)).toBe(false);
  });
  it("ECDH and the GM/T key exchange agree on both sides", () => {
    const a = generateSm2KeyPair();
    const b = generateSm2KeyPair();
    expect(sm2SharedX(a.privateKey, b.publicKey).equals(sm2SharedX(b.privateKey, a.publicKey))).toBe(true);
    const ea = generateSm2KeyPair();
    const eb = generateSm2KeyPair();
    expect(sm2KeyExchange(a, ea, b.publicKey, eb.publicKey, 16, false).equals(sm2KeyExchange(b, eb, a.publicKey, ea.publicKey, 16, true))).toBe(true);
  });
  it("refuses a point that is not on the curve", () => {
    expect(isSm2PublicKey(`04${"11".repeat(64)}`)).toBe(false);
  });
});
