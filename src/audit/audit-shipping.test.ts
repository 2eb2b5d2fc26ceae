// Starting the shipping: one cursor per sink name, clear start errors for clashing names and unreadable TLS files.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { auditSinkSchema } from "../config/schema.js";
import { silentLogger } from "../logging/logger.js";
import { openDatabase } from "../store/database.js";
import type { AuditSource } from "./audit-record.js";
import { startAuditShipping } from "./audit-shipping.js";

const emptySource: AuditSource = { after: () => [], head: () => ({ sequence: 0, hash: "0".repeat(64) }), subscribe: () => () => undefined };
const directories: string[] = [];
afterEach(() => {
  for (const directory of directories.splice(0)) fs.rmSync(directory, { recursive: true, force: true });
});

function options() {
  const directory = fs.mkdtempSync(path.join(os.tmpdir(), "clawbot-shipping-"));
  directories.push(directory);
  return { source: emptySource, database: openDatabase(directory), logger: silentLogger, baseDir: directory, nodeId: "node-a" };
}

describe("startAuditShipping", () => {
  it("names each cursor after the sink's name, else its type and destination", async () => {
    const shippingOptions = options();
    const sinks = [
      { type: "file", path: "audit.jsonl" },
      { type: "syslog", url: "tls://logs.example:6514" },
      { type: "http", url: "https://user:secret@siem.example/ingest" },
      { type: "http", name: "siem-backup", url: "https://siem.example/ingest" },
    ].map((sink) => auditSinkSchema.parse(sink));
    const shipping = startAuditShipping(sinks, shippingOptions);
    expect(shipping.status().map((status) => [status.name, status.type])).toEqual([
      [`file:${path.join(shippingOptions.baseDir, "audit.jsonl")}`, "file"],
      ["syslog:tls://logs.example:6514", "syslog"],
      ["http:https://siem.example/ingest", "http"],
      ["siem-backup", "http"],
    ]);
    await shipping.close();
    shippingOptions.database.close();
  });

  it("refuses two sinks sharing a cursor, and TLS files it cannot read, before shipping anything", () => {
    const shippingOptions = options();
    expect(() =>
      startAuditShipping(
        [auditSinkSchema.parse({ type: "file", path: "a.jsonl" }), auditSinkSchema.parse({ type: "file", path: "./a.jsonl" })],
        shippingOptions,
      ),
    ).toThrow(/audit\.sinks\[1\]: its cursor name "file:.*a\.jsonl" is also audit\.sinks\[0\]'s/);
    expect(() => startAuditShipping([auditSinkSchema.parse({ type: "syslog", url: "tls://127.0.0.1:6514", ca: "missing-ca.pem" })], shippingOptions)).toThrow(
      /syslog ca .*missing-ca\.pem: cannot read \(ENOENT\)/,
    );
    shippingOptions.database.close();
  });
});
