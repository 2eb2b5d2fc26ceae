// DingTalk event subscriptions use WeCom's WXBizMsgCrypt layout: pinned to DingTalk's official callback vector.
import { createDecipheriv } from "node:crypto";
import { describe, expect, it } from "vitest";
import { decryptMessage, encryptMessage, messageSignature, verifySignature } from "../wecom/wx-biz-msg-crypt.js";

// open-dingtalk/DingTalk-Callback-Crypto's sample (the protocol notes, DingTalk §2.3).
const vector = {
  token: "mryue",
  aesKey: "Yue0EfdN5900c1ce5cf6A152c63DDe1808a60c5ecd7",
  ownerKey: "ding6ccabc44d2c8d38b",
  timeStamp: "1608001896814",
  nonce: "WL4PK6yA",
  encrypt: "0vJiX6vliEpwG3U45CtXqi+m8PXbQRARJ8p8BbDuD1EMTDf0jKpQ79QS93qEk7XHpP6u+oTTrd15NRPvNvmBKyDCYxxOK+HZeKju4yhELOFchzNukR+t8SB/qk4ROMu3",
  signature: "03044561471240d4a14bb09372dfcfd4fd0e40cb",
};

describe("DingTalk event-callback crypto (WXBizMsgCrypt layout)", () => {
  it("signs the official vector", () => {
    expect(messageSignature(vector.token, vector.timeStamp, vector.nonce, vector.encrypt)).toBe(vector.signature);
    expect(verifySignature(vector.token, vector.timeStamp, vector.nonce, vector.encrypt, vector.signature)).toBe(true);
    expect(verifySignature(vector.token, vector.timeStamp, vector.nonce, vector.encrypt, vector.signature.replace(/^0/, "1"))).toBe(false);
  });

  it("decrypts the official vector to check_url for the AppKey", () => {
    const decrypted = decryptMessage({ encodingAesKey: vector.aesKey, encrypted: vector.encrypt, receiveId: vector.ownerKey });
    expect(decrypted).toEqual({ message: '{"EventType":"check_url"}', receiveId: vector.ownerKey });
    expect(() => decryptMessage({ encodingAesKey: vector.aesKey, encrypted: vector.encrypt, receiveId: "dingother" })).toThrow(/another receiver/);
  });

  it("re-encrypts to the same bytes given the vector's random prefix", () => {
    const key = Buffer.from(`${vector.aesKey}=`, "base64");
    const decipher = createDecipheriv("aes-256-cbc", key, key.subarray(0, 16));
    decipher.setAutoPadding(false);
    const plain = Buffer.concat([decipher.update(Buffer.from(vector.encrypt, "base64")), decipher.final()]);
    expect(plain[plain.length - 1]).toBe(31);
    const random = plain.subarray(0, 16);
    expect(encryptMessage({ encodingAesKey: vector.aesKey, message: '{"EventType":"check_url"}', receiveId: vector.ownerKey, random })).toBe(vector.encrypt);
  });
});
