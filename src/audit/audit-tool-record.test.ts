// Tests for tool_call audit records: fields, the arguments per content mode, the chain (also after an erasure), failed appends.
import { Writable } from "node:stream";
import pino from "pino";
import { describe, expect, it } from "vitest";
import { auditSchema } from "../config/schema.js";
import type { RequestEnd, RequestStart, ToolCallRecord } from "../pipeline/request-observer.js";
import { openMemoryDatabase } from "../store/database.js";
import { sm3Hex } from "./audit-canonical.js";
import { eraseSubjectTexts } from "./audit-erasure.js";
import { openAuditTrail } from "./audit-trail.js";
import { verifyChain, type RawAuditRecord } from "./audit-verify.js";

const start: RequestStart = {
  requestId: "0b4f6c2e-1111-4222-8333-444455556666",
  clientRequestId: "client-7",
  gateway: "websocket",
  principal: { subject: "alice", roles: ["user", "nurse"], scopes: [], claims: {} },
  session: "ward-3",
  model: "echo",
  agent: "default",
  params: { maxTokens: 64, temperature: 0 },
  receivedAt: 1_700_000_000_000,
};

const argumentsText = '{"query":"Zhang San, bed 12, zorblax"}';

function call(overrides: Partial<ToolCallRecord> = {}): ToolCallRecord {
  return { callId: "call_abc", tool: "knowledge_search", source: "builtin", agent: "default", arguments: argumentsText, outcome: "ok", resultChars: 321, durationMs: 12.34567, ...overrides };
}

function end(): RequestEnd {
  return {
    ...start,
    receivedInput: "search please",
    processedInput: "search please",
    generatedOutput: "found it",
    deliveredOutput: "found it",
    outcome: "stop",
    error: undefined,
    plugins: [],
    pluginMetadata: {},
    usage: { promptTokens: 10, completionTokens: 3 },
    timings: { queueMs: 1, ttftMs: 2, totalMs: 3 },
  };
}

function open(content: "full" | "redacted" | "hash") {
  const database = openMemoryDatabase();
  const lines: Record<string, unknown>[] = [];
  const stream = new Writable({
    write(chunk, _encoding, done) {
      lines.push(JSON.parse(String(chunk)) as Record<string, unknown>);
      done();
    },
  });
  const trail = openAuditTrail(auditSchema.parse({ content }), { database, nodeId: "node-a", logger: pino({ level: "info" }, stream), baseDir: "/" });
  const rows = () => database.prepare("SELECT sequence, recorded_at AS recordedAt, kind, body, hash FROM audit_records ORDER BY sequence").all() as RawAuditRecord[];
  return { database, trail, rows, lines };
}

describe("tool_call audit records", () => {
  it("records who called which tool in which request, and how it went; the request's record follows with the same request_id", async () => {
    const { trail, rows } = open("full");
    trail.observer.toolCalled?.(start, call());
    trail.observer.finished?.(end());
    const [tool, request] = rows();
    expect(tool?.kind).toBe("tool_call");
    expect(JSON.parse(tool?.body as string)).toEqual({
      node: "node-a",
      gateway: "websocket",
      subject: "alice",
      roles: ["user", "nurse"],
      session: "ward-3",
      request_id: start.requestId,
      agent: "default",
      call_id: "call_abc",
      tool: "knowledge_search",
      source: "builtin",
      content: "full",
      arguments: argumentsText,
      outcome: "ok",
      result_chars: 321,
      duration_ms: 12.346,
    });
    expect(request?.kind).toBe("request");
    expect(JSON.parse(request?.body as string)).toMatchObject({ request_id: start.requestId });
    expect(verifyChain(rows())).toMatchObject({ records: 2, broken: undefined });
    await trail.close();
  });

  it("keeps the arguments only as their SM3 digest in redacted and hash modes (no plugin processed them)", async () => {
    for (const content of ["redacted", "hash"] as const) {
      const { trail, rows } = open(content);
      trail.observer.toolCalled?.(start, call());
      const body = JSON.parse(rows()[0]?.body as string) as Record<string, unknown>;
      expect(body.arguments).toEqual({ sm3: sm3Hex(argumentsText) });
      expect(rows()[0]?.body).not.toContain("Zhang San");
      expect(body.content).toBe(content);
      expect(verifyChain(rows())).toMatchObject({ records: 1, erasedTexts: 1, broken: undefined });
      await trail.close();
    }
  });

  it("records a call of no known tool with source null, and a name that is no tool name as null", async () => {
    const { trail, rows } = open("full");
    trail.observer.toolCalled?.(start, call({ tool: "made_up", source: undefined, outcome: "error" }));
    trail.observer.toolCalled?.(start, call({ tool: "not a name {with} spaces", source: undefined, outcome: "invalid_arguments" }));
    const bodies = rows().map((row) => JSON.parse(row.body) as Record<string, unknown>);
    expect(bodies.map((body) => [body.tool, body.source, body.outcome])).toEqual([
      ["made_up", null, "error"],
      [null, null, "invalid_arguments"],
    ]);
    await trail.close();
  });

  it("erasing the subject replaces the arguments by their digest too, and the chain still verifies", async () => {
    const { database, trail, rows } = open("full");
    trail.observer.toolCalled?.(start, call());
    trail.observer.toolCalled?.({ ...start, principal: { ...start.principal, subject: "bob" } }, call({ arguments: '{"query":"bob keeps this"}' }));
    trail.observer.finished?.(end());
    const before = verifyChain(rows());
    expect(before.broken).toBeUndefined();
    expect(eraseSubjectTexts(database, "alice")).toBe(2);
    const bodies = rows().map((row) => JSON.parse(row.body) as Record<string, unknown>);
    expect(bodies[0]).toMatchObject({ subject: { sm3: sm3Hex("alice") }, arguments: { sm3: sm3Hex(argumentsText) }, tool: "knowledge_search" });
    expect(bodies[1]).toMatchObject({ subject: "bob", arguments: '{"query":"bob keeps this"}' });
    const after = verifyChain(rows());
    expect(after).toMatchObject({ records: 3, broken: undefined, head: before.head });
    await trail.close();
  });

  it("never throws when the record cannot be written: the failure is logged and counted", async () => {
    const { database, trail, lines } = open("redacted");
    database.exec("CREATE TRIGGER refuse BEFORE INSERT ON audit_records BEGIN SELECT RAISE(ABORT, 'disk full'); END");
    expect(() => trail.observer.toolCalled?.(start, call())).not.toThrow();
    expect(trail.status().appendFailures).toBe(1);
    expect(lines).toContainEqual(expect.objectContaining({ kind: "tool_call", msg: "the audit record could not be written" }));
    await trail.close();
  });
});
