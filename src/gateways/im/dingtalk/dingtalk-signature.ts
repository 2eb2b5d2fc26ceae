// The robot HTTP callback's `timestamp`/`sign` headers: base64(HmacSHA256(appSecret, timestamp + "\n" + appSecret)).
import { createHmac, timingSafeEqual } from "node:crypto";

/** The `sign` DingTalk sends with a delivery stamped `timestamp` (milliseconds, as the decimal string it sent). */
export function callbackSign(timestamp: string, appSecret: string): string {
  return createHmac("sha256", appSecret).update(`${timestamp}\n${appSecret}`, "utf8").digest("base64");
}

export type SignatureCheck = { ok: true } | { ok: false; reason: string };

/**
 * Checks a delivery's headers: a decimal millisecond timestamp within `maxSkewSeconds` of `now`, and its sign
 * (constant-time compare). The reason says which failed, for the log and the auth-failure event (never the secret).
 */
export function checkCallbackSignature(
  headers: { timestamp: unknown; sign: unknown },
  appSecret: string,
  maxSkewSeconds: number,
  now: number = Date.now(),
): SignatureCheck {
  const { timestamp, sign } = headers;
  if (typeof timestamp !== "string" || typeof sign !== "string" || timestamp === "" || sign === "") {
    return { ok: false, reason: "the timestamp or sign header is missing" };
  }
  if (!/^\d{1,16}$/.test(timestamp)) return { ok: false, reason: "the timestamp header is not a millisecond time" };
  if (Math.abs(now - Number(timestamp)) > maxSkewSeconds * 1000) return { ok: false, reason: "the timestamp is stale (or our clock is off)" };
  const expected = Buffer.from(callbackSign(timestamp, appSecret), "utf8");
  const given = Buffer.from(sign, "utf8");
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) return { ok: false, reason: "the sign does not match" };
  return { ok: true };
}
