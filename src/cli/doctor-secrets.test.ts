// Tests for secretWeakness: placeholders, repetitions, few characters and short secrets are weak; random ones are not.
import { randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import { secretWeakness } from "./doctor-secrets.js";

describe("secretWeakness", () => {
  it("names what is wrong with a weak secret", () => {
    expect(secretWeakness("change-me")).toBe("is an obvious placeholder");
    expect(secretWeakness("secret")).toBe("is an obvious placeholder");
    expect(secretWeakness("please-change-me-before-production-0123456789")).toBe("is an obvious placeholder");
    expect(secretWeakness("a".repeat(64))).toBe("is one short pattern repeated");
    expect(secretWeakness("abcabcabcabcabcabcabcabcabcabcabcabc")).toBe("is one short pattern repeated");
    expect(secretWeakness("abababababababababababababababababcd")).toBe("has only 4 different characters");
    expect(secretWeakness("Xy7-kP2q!rT9")).toBe("is shorter than 32 bytes");
  });

  it("passes random secrets of 32 bytes and more, and the test suite's own", () => {
    for (let index = 0; index < 20; index += 1) expect(secretWeakness(randomBytes(32).toString("base64url"))).toBeUndefined();
    expect(secretWeakness("test-secret-0123456789-abcdefghijklmnop")).toBeUndefined();
  });
});
