// Feishu's crypto pinned to the official vector (docs' `test key` sample) and the signature layout.
import crypto from "node:crypto";
import { describe, expect, it } from "vitest";
import { decryptFeishuPayload, feishuSignature, sameSecret, verifyFeishuSignature } from "./feishu-crypto.js";

describe("feishu crypto", () => {
  it("decrypts the official vector: `test key` + P37w+… → hello world", () => {
    expect(decryptFeishuPayload("P37w+VZImNgPEO1RBhJ6RtKl7n6zymIbEG1pReEzghk=", "test key")).toBe("hello world");
  });

  it("refuses a payload decrypted with another key, or not whole blocks", () => {
    expect(() => decryptFeishuPayload("P37w+VZImNgPEO1RBhJ6RtKl7n6zymIbEG1pReEzghk=", "other key")).toThrow();
    expect(() => decryptFeishuPayload(Buffer.alloc(20).toString("base64"), "test key")).toThrow();
  });

  it("signs timestamp + nonce + key followed by the raw body bytes", () => {
    const body = Buffer.from('{"encrypt":"abc"}');
    const expected = crypto.createHash("sha256").update("1700000000" + "n0nce" + "k3y" + '{"encrypt":"abc"}').digest("hex");
    expect(feishuSignature("1700000000", "n0nce", "k3y", body)).toBe(expected);
    expect(verifyFeishuSignature(expected, "1700000000", "n0nce", "k3y", body)).toBe(true);
    expect(verifyFeishuSignature(expected, "1700000001", "n0nce", "k3y", body)).toBe(false);
    expect(verifyFeishuSignature(expected, "1700000000", "n0nce", "k3y", Buffer.from('{"encrypt":"abd"}'))).toBe(false);
    expect(verifyFeishuSignature("short", "1700000000", "n0nce", "k3y", body)).toBe(false);
  });

  it("compares secrets of any length", () => {
    expect(sameSecret("token", "token")).toBe(true);
    expect(sameSecret("token", "tokens")).toBe(false);
  });
});
