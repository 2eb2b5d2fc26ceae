// The error table is the contract: every code has a status, a close code, and a row in docs/protocol.md.
import fs from "node:fs";
import { describe, expect, it } from "vitest";
import { ClawError, errorTable, toClawError } from "./errors.js";

describe("error table", () => {
  it("has the codes the gateways promise, each documented in docs/protocol.md", () => {
    const documented = fs.readFileSync(new URL("../../docs/protocol.md", import.meta.url), "utf8");
    for (const [code, entry] of Object.entries(errorTable)) {
      expect(documented).toContain(`| \`${code}\` | ${entry.status} | ${entry.closeCode} | ${entry.description} |`);
    }
    for (const code of ["unauthorized", "forbidden", "bad_request", "payload_too_large", "context_length_exceeded", "overloaded", "cancelled", "internal"]) {
      expect(Object.keys(errorTable)).toContain(code);
    }
  });

  it("wraps unknown failures as internal and keeps ClawErrors as they are", () => {
    const original = new ClawError("overloaded", "busy");
    expect(toClawError(original)).toBe(original);
    const wrapped = toClawError(new TypeError("boom"));
    expect(wrapped.code).toBe("internal");
    expect(wrapped.message).not.toContain("boom");
    expect(wrapped.status).toBe(500);
  });
});
