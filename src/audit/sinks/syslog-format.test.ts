// RFC 5424 formatting of audit records: header fields, PRI, structured data escaping, octet counting, and a parse back.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { StoredAuditRecord } from "../audit-record.js";
import { escapeParamValue, headerField, octetCounted, structuredDataId, syslogCheckpointMessage, syslogRecordMessage, type SyslogHeader } from "./syslog-format.js";

const header: SyslogHeader = { facility: 13, hostname: "node-a", appName: "clawbot", procId: "4242" };

function record(overrides: Partial<StoredAuditRecord> = {}): StoredAuditRecord {
  return { sequence: 7, recordedAt: Date.UTC(2025, 0, 2, 3, 4, 5, 678), kind: "request", body: { input: "hi", output: "hello" }, hash: "ab".repeat(32), ...overrides };
}

/** RFC 6587 octet-counting deframer, written from the RFC: MSG-LEN SP SYSLOG-MSG, repeated. */
function deframe(stream: Buffer): string[] {
  const messages: string[] = [];
  let offset = 0;
  while (offset < stream.length) {
    const space = stream.indexOf(0x20, offset);
    const length = Number(stream.subarray(offset, space).toString("ascii"));
    expect(String(length)).toMatch(/^[1-9]\d*$/);
    messages.push(stream.subarray(space + 1, space + 1 + length).toString("utf8"));
    offset = space + 1 + length;
  }
  return messages;
}

/** Splits an RFC 5424 message: header fields, one SD-ELEMENT's params (unescaped), MSG. */
function parse(message: string) {
  const match = /^<(\d{1,3})>1 (\S+) (\S+) (\S+) (\S+) (\S+) \[(\S+)((?: [^=\s]+="(?:[^"\\\]]|\\["\\\]])*")*)\] (.*)$/s.exec(message);
  if (!match) throw new Error(`not RFC 5424: ${message}`);
  const [, pri, timestamp, hostname, appName, procId, msgId, sdId, params, msg] = match as unknown as string[];
  const values: Record<string, string> = {};
  for (const param of (params as string).matchAll(/ ([^=\s]+)="((?:[^"\\\]]|\\["\\\]])*)"/g)) {
    values[param[1] as string] = (param[2] as string).replace(/\\(["\\\]])/g, "$1");
  }
  return { pri: Number(pri), timestamp, hostname, appName, procId, msgId, sdId, values, msg: msg as string };
}

describe("RFC 5424 audit messages", () => {
  it("puts the record's kind, sequence and hash where syslog receivers read them", () => {
    const parsed = parse(syslogRecordMessage(record(), header, "node-a"));
    expect(parsed).toMatchObject({
      pri: 13 * 8 + 6,
      timestamp: "2025-01-02T03:04:05.678Z",
      hostname: "node-a",
      appName: "clawbot",
      procId: "4242",
      msgId: "request",
      sdId: structuredDataId,
      values: { seq: "7", hash: "ab".repeat(32), node: "node-a" },
    });
    expect(JSON.parse(parsed.msg)).toEqual({
      sequence: 7,
      recorded_at: "2025-01-02T03:04:05.678Z",
      kind: "request",
      node_id: "node-a",
      hash: "ab".repeat(32),
      body: { input: "hi", output: "hello" },
    });
  });

  it("sends auth failures and checkpoints at severity notice, other records at info", () => {
    expect(parse(syslogRecordMessage(record({ kind: "auth_failure" }), { ...header, facility: 4 }, "n")).pri).toBe(4 * 8 + 5);
    expect(parse(syslogRecordMessage(record({ kind: "start" }), { ...header, facility: 0 }, "n")).pri).toBe(6);
    const checkpoint = parse(syslogCheckpointMessage({ sequence: 90, hash: "cd".repeat(32), nodeId: "n", at: 0 }, header));
    expect(checkpoint).toMatchObject({ pri: 13 * 8 + 5, msgId: "checkpoint", timestamp: "1970-01-01T00:00:00.000Z", values: { seq: "90", hash: "cd".repeat(32) } });
    expect(JSON.parse(checkpoint.msg)).toMatchObject({ kind: "checkpoint", sequence: 90 });
  });

  it("escapes the three characters RFC 5424 reserves in parameter values", () => {
    expect(escapeParamValue('a"b\\c]d')).toBe('a\\"b\\\\c\\]d');
    expect(escapeParamValue("plain [ text = ok")).toBe("plain [ text = ok");
    const message = syslogRecordMessage(record(), { ...header, hostname: 'we"ird] \\node' }, 'we"ird] \\node');
    expect(message).toContain('node="we\\"ird\\] \\\\node"');
    expect(parse(message).values.node).toBe('we"ird] \\node');
  });

  it("keeps header fields to printable ASCII within their lengths, and '-' for none", () => {
    expect(headerField("ward 7 — nurse", 48)).toBe("ward_7___nurse");
    expect(headerField("x".repeat(300), 255)).toHaveLength(255);
    expect(headerField("", 48)).toBe("-");
    expect(parse(syslogRecordMessage(record({ kind: "config_reload" }), { ...header, hostname: "host name" }, "host name"))).toMatchObject({
      hostname: "host_name",
      msgId: "config_reload",
    });
  });

  it("frames with the message's length in bytes, not characters", () => {
    expect(octetCounted("héllo").toString("utf8")).toBe("6 héllo");
    expect(deframe(Buffer.concat([octetCounted("a b"), octetCounted("日本"), octetCounted("c")]))).toEqual(["a b", "日本", "c"]);
  });

  it("round-trips any record through framing, the header grammar and the JSON in MSG", () => {
    const text = fc.string({ unit: "binary", maxLength: 40 });
    fc.assert(
      fc.property(
        fc.array(
          fc.record({
            sequence: fc.integer({ min: 1, max: 2 ** 40 }),
            recordedAt: fc.integer({ min: 0, max: 4102444800000 }),
            kind: fc.constantFrom("request", "auth_failure", "start", "stop", "config_reload"),
            body: fc.dictionary(text, text, { maxKeys: 4 }),
            hash: fc.stringMatching(/^[0-9a-f]{64}$/),
          }),
          { minLength: 1, maxLength: 5 },
        ),
        fc.string({ unit: "binary", minLength: 1, maxLength: 30 }),
        (records, nodeId) => {
          const frames = Buffer.concat(records.map((item) => octetCounted(syslogRecordMessage(item, { ...header, hostname: nodeId }, nodeId))));
          const messages = deframe(frames);
          expect(messages).toHaveLength(records.length);
          messages.forEach((message, index) => {
            const item = records[index] as StoredAuditRecord;
            // MSG is plain ASCII (non-ASCII as JSON \u escapes), so receivers that escape bytes leave it intact.
            const parsed = parse(message);
            expect(parsed.msg).toMatch(/^[\x20-\x7e]*$/);
            expect(parsed.values).toEqual({ seq: String(item.sequence), hash: item.hash, node: nodeId });
            expect(JSON.parse(parsed.msg)).toEqual({ sequence: item.sequence, recorded_at: new Date(item.recordedAt).toISOString(), kind: item.kind, node_id: nodeId, hash: item.hash, body: item.body });
          });
        },
      ),
    );
  });
});
