// WXBizMsgCrypt pinned to WeCom's official VerifyURL and DecryptMsg sample values (shared notes §1.2), plus round trips.
import { createDecipheriv } from "node:crypto";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { aesKeyOf, decryptMessage, encryptMessage, messageSignature, verifySignature } from "./wx-biz-msg-crypt.js";

const token = "QDG6eK";
const encodingAesKey = "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C";
const corpId = "wx5823bf96d3bd56c7";
const echostr = "P9nAzCzyDtyTWESHep1vC5X9xho/qYX3Zpb4yKa9SKld1DsH3Iyt3tP3zNdtp+4RPcs8TgAE7OaBO+FZXvnaqQ==";
const encrypted =
  "RypEvHKD8QQKFhvQ6QleEB4J58tiPdvo+rtK1I9qca6aM/wvqnLSV5zEPeusUiX5L5X/0lWfrf0QADHHhGd3QczcdCUpj911L3vg3W/sYYvuJTs3TUUkSUXxaccAS0qhxchrRYt66wiSpGLYL42aM6A8dTT+6k4aSknmPj48kzJs8qLjvd4Xgpue06DOdnLxAUHzM6+kDZ+HMZfJYuR+LtwGc2hgf5gsijff0ekUNXZiqATP7PF5mZxZ3Izoun1s4zG4LUMnvw2r+KqCKIw+3IQH03v+BCA9nMELNqbSf6tiWSrXJB3LAVGUcallcrw8V2t9EL4EhzJWrQUax5wLVMNS0+rUPA3k22Ncx4XXZS9o0MBH27Bo6BpNelZpS+/uh9KsNlY6bHCmJU9p8g7m3fVKn28H3KDYA5Pl/T8Z1ptDAVe0lXdQ2YoyyH2uyPIGHBZZIs2pDBS8R07+qN+E7Q==";

/** The last byte of the raw decryption: the pad value (32-byte PKCS#7 runs 1..32). */
function padByte(base64: string): number {
  const key = aesKeyOf(encodingAesKey);
  const decipher = createDecipheriv("aes-256-cbc", key, key.subarray(0, 16)).setAutoPadding(false);
  const plain = Buffer.concat([decipher.update(Buffer.from(base64, "base64")), decipher.final()]);
  return plain[plain.length - 1]!;
}

describe("WXBizMsgCrypt (official vectors)", () => {
  it("VerifyURL: the signature matches and echostr decrypts to the plaintext for the corp", () => {
    expect(messageSignature(token, "1409659589", "263014780", echostr)).toBe("5c45ff5e21c57e6ad56bac8758b79b1d9ac89fd3");
    expect(decryptMessage({ encodingAesKey, encrypted: echostr, receiveId: corpId })).toEqual({ message: "1616140317555161061", receiveId: corpId });
    expect(padByte(echostr)).toBe(7);
  });

  it("DecryptMsg: the signature matches and the XML comes out, pad byte 30 (32-byte blocks)", () => {
    expect(verifySignature(token, "1409659813", "1372623149", encrypted, "477715d11cdb4164915debcba66cb864d751f3e6")).toBe(true);
    const { message, receiveId } = decryptMessage({ encodingAesKey, encrypted, receiveId: corpId });
    expect(receiveId).toBe(corpId);
    expect(message).toContain("<FromUserName><![CDATA[mycreate]]></FromUserName>");
    expect(message).toContain("<Content><![CDATA[hello]]></Content>");
    expect(message).toContain("<MsgId>4561255354251345929</MsgId>");
    expect(padByte(encrypted)).toBe(30);
  });

  it("encrypting the vector's plaintext with its random prefix gives the official ciphertext back", () => {
    const key = aesKeyOf(encodingAesKey);
    const decipher = createDecipheriv("aes-256-cbc", key, key.subarray(0, 16)).setAutoPadding(false);
    const random = Buffer.concat([decipher.update(Buffer.from(echostr, "base64")), decipher.final()]).subarray(0, 16);
    expect(encryptMessage({ encodingAesKey, message: "1616140317555161061", receiveId: corpId, random })).toBe(echostr);
  });

  it("refuses a wrong receiver, a forged signature, bad base64, wrong sizes and a bad key", () => {
    expect(() => decryptMessage({ encodingAesKey, encrypted, receiveId: "wx-other" })).toThrow(/another receiver/);
    expect(verifySignature(token, "1409659813", "1372623149", encrypted, "477715d11cdb4164915debcba66cb864d751f3e7")).toBe(false);
    expect(verifySignature(token, "1409659813", "1372623149", encrypted, "short")).toBe(false);
    expect(() => decryptMessage({ encodingAesKey, encrypted: "not base64!" })).toThrow(/base64/);
    expect(() => decryptMessage({ encodingAesKey, encrypted: "AAAA" })).toThrow(/length/);
    expect(() => decryptMessage({ encodingAesKey, encrypted: "" })).toThrow(/length/);
    expect(() => aesKeyOf("short")).toThrow(/43/);
  });

  it("round-trips any message and receiver; a flipped ciphertext byte never decrypts to the same message silently", () => {
    fc.assert(
      fc.property(fc.string({ unit: "grapheme", maxLength: 200 }), fc.string({ maxLength: 40 }), fc.nat(), (message, receiveId, flip) => {
        const sealed = encryptMessage({ encodingAesKey, message, receiveId });
        expect(decryptMessage({ encodingAesKey, encrypted: sealed, receiveId })).toEqual({ message, receiveId });
        const bytes = Buffer.from(sealed, "base64");
        bytes[flip % bytes.length]! ^= 1;
        try {
          expect(decryptMessage({ encodingAesKey, encrypted: bytes.toString("base64"), receiveId })).not.toEqual({ message, receiveId });
        } catch (error) {
          expect((error as { code?: string }).code).toBe("bad_request");
        }
      }),
      { numRuns: 100 },
    );
  });
});
