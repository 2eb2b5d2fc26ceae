// Tests for the canonical record: SM3, sorted-key JSON, texts as digests, and the chain hash.
import { createHash } from "node:crypto";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { canonicalJson, canonicalRecord, chainHash, erasedBody, eraseText, genesisHash, sm3Hex } from "./audit-canonical.js";

describe("the canonical record", () => {
  it("uses SM3 (the GB/T 32905 test vector for \"abc\")", () => {
    expect(sm3Hex("abc")).toBe("66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0");
  });

  it("writes JSON with keys sorted at every depth, no whitespace, undefined members left out", () => {
    expect(canonicalJson({ b: 1, a: { d: [1, "x", null, true], c: undefined, b: "é\n" } })).toBe('{"a":{"b":"é\\n","d":[1,"x",null,true]},"b":1}');
    expect(canonicalJson({ B: 1, a: 2, _: 3 })).toBe('{"B":1,"_":3,"a":2}');
    expect(() => canonicalJson({ a: Number.NaN })).toThrow(/non-finite/);
  });

  it("gives the same text for the same value whatever the key order, and parses back to the value", () => {
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        const text = canonicalJson(value);
        const reordered = JSON.parse(JSON.stringify(value, (_key, member: unknown) => (member && typeof member === "object" && !Array.isArray(member) ? Object.fromEntries(Object.entries(member).reverse()) : member)));
        expect(canonicalJson(reordered)).toBe(text);
        expect(canonicalJson(JSON.parse(text))).toBe(text);
        expect(text).not.toMatch(/^\s|\s$/);
      }),
    );
  });

  it("holds each text field's digest, not the text; other fields as they are", () => {
    const body = { input: "my phone is 13800138000", output: "ok", subject: "alice", session: null, tokens: { prompt: 3 }, model: "m" };
    const erased = erasedBody(body);
    expect(erased).toEqual({ input: { sm3: sm3Hex(body.input) }, output: { sm3: sm3Hex("ok") }, subject: { sm3: sm3Hex("alice") }, session: null, tokens: { prompt: 3 }, model: "m" });
    const canonical = canonicalRecord({ sequence: 7, recordedAt: 1000, kind: "request", body });
    expect(canonical).not.toContain("13800138000");
    expect(canonical.startsWith('{"body":{"input":{"sm3":"')).toBe(true);
    expect(canonical.endsWith('"kind":"request","recorded_at":1000,"sequence":7}')).toBe(true);
  });

  it("chains from the previous hash's hex text: SM3(prev ‖ canonical), from 64 zeros", () => {
    const record = { sequence: 1, recordedAt: 5, kind: "start", body: { node: "n1" } };
    const expected = createHash("sm3").update(`${"0".repeat(64)}{"body":{"node":"n1"},"kind":"start","recorded_at":5,"sequence":1}`).digest("hex");
    expect(genesisHash).toBe("0".repeat(64));
    expect(chainHash(genesisHash, record)).toBe(expected);
    expect(chainHash(expected, { ...record, sequence: 2 })).not.toBe(chainHash(genesisHash, { ...record, sequence: 2 }));
  });

  it("hashes an erased text like the text itself, and a changed text differently", () => {
    const body = { input: "secret question", output: "answer" };
    const record = { sequence: 3, recordedAt: 9, kind: "request", body };
    const hash = chainHash(genesisHash, record);
    expect(chainHash(genesisHash, { ...record, body: { ...body, input: eraseText("secret question") } })).toBe(hash);
    expect(chainHash(genesisHash, { ...record, body: { ...body, input: "secret questioN" } })).not.toBe(hash);
    expect(chainHash(genesisHash, { ...record, body: { ...body, input: { sm3: "0".repeat(64) } } })).not.toBe(hash);
  });

  it("refuses a text field that is neither a string, null nor a digest", () => {
    expect(() => erasedBody({ input: 5 })).toThrow(/input/);
    expect(() => erasedBody({ output: { sm3: "not hex" } })).toThrow(/output/);
    expect(() => erasedBody({ reason: { sm3: "a".repeat(64), extra: 1 } })).toThrow(/reason/);
  });
});
