// The callback signature: an independently computed HMAC, a stale or forged header, the skew bound.
import { createHmac } from "node:crypto";
import { describe, expect, it } from "vitest";
import { callbackSign, checkCallbackSignature } from "./dingtalk-signature.js";

const secret = "this-is-the-app-secret";
const now = 1_700_000_000_000;

describe("DingTalk callback signature", () => {
  it("is base64(HmacSHA256(secret, timestamp\\nsecret))", () => {
    const expected = createHmac("sha256", Buffer.from(secret)).update(Buffer.from(`${now}\n${secret}`)).digest("base64");
    expect(callbackSign(String(now), secret)).toBe(expected);
    expect(checkCallbackSignature({ timestamp: String(now), sign: expected }, secret, 300, now)).toEqual({ ok: true });
  });

  it("refuses a forged sign, another secret's sign and missing headers", () => {
    const sign = callbackSign(String(now), secret);
    const forged = `${sign.slice(0, -2)}${sign.endsWith("A=") ? "B=" : "A="}`;
    expect(checkCallbackSignature({ timestamp: String(now), sign: forged }, secret, 300, now).ok).toBe(false);
    expect(checkCallbackSignature({ timestamp: String(now), sign: callbackSign(String(now), "other") }, secret, 300, now).ok).toBe(false);
    expect(checkCallbackSignature({ timestamp: String(now + 1), sign }, secret, 300, now).ok).toBe(false);
    expect(checkCallbackSignature({ timestamp: undefined, sign }, secret, 300, now)).toMatchObject({ ok: false, reason: /missing/ });
    expect(checkCallbackSignature({ timestamp: "12e5", sign }, secret, 300, now)).toMatchObject({ ok: false, reason: /millisecond/ });
  });

  it("refuses a timestamp outside the skew, either way", () => {
    for (const offset of [-301_000, 301_000]) {
      const timestamp = String(now + offset);
      expect(checkCallbackSignature({ timestamp, sign: callbackSign(timestamp, secret) }, secret, 300, now)).toMatchObject({ ok: false, reason: /stale/ });
    }
    const inside = String(now - 299_000);
    expect(checkCallbackSignature({ timestamp: inside, sign: callbackSign(inside, secret) }, secret, 300, now).ok).toBe(true);
  });
});
