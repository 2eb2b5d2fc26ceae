// Tests for the audit trail: request records per content mode, auth failures, start/stop, checkpoints, failed appends.
import { Writable } from "node:stream";
import pino from "pino";
import { describe, expect, it, vi } from "vitest";
import { auditSchema, configSchema } from "../config/schema.js";
import { ClawError } from "../core/errors.js";
import type { RequestEnd } from "../pipeline/request-observer.js";
import { openMemoryDatabase } from "../store/database.js";
import { sm3Hex } from "./audit-canonical.js";
import { openAuditTrail } from "./audit-trail.js";
import { verifyChain, type RawAuditRecord } from "./audit-verify.js";

function capturingLogger() {
  const lines: Record<string, unknown>[] = [];
  const stream = new Writable({
    write(chunk, _encoding, done) {
      lines.push(JSON.parse(String(chunk)) as Record<string, unknown>);
      done();
    },
  });
  return { logger: pino({ level: "info" }, stream), lines };
}

function requestEnd(overrides: Partial<RequestEnd> = {}): RequestEnd {
  return {
    requestId: "0b4f6c2e-1111-4222-8333-444455556666",
    clientRequestId: "client-7",
    gateway: "websocket",
    principal: { subject: "alice", roles: ["user", "nurse"], scopes: [], claims: {} },
    session: "ward-3",
    model: "stories260K",
    agent: "default",
    params: { maxTokens: 64, temperature: 0, stop: ["secret stop"], responseFormat: { type: "json_schema", schema: { type: "object" } } },
    receivedAt: 1_700_000_000_000,
    receivedInput: "call me at 13800138000",
    processedInput: "call me at [PHONE]",
    generatedOutput: "I will call 13800138000",
    deliveredOutput: "I will call [PHONE]",
    outcome: "stop",
    error: undefined,
    plugins: ["redact"],
    pluginMetadata: { redact: { input: { phone: 1 }, output: { phone: 1 } } },
    usage: { promptTokens: 12, completionTokens: 5 },
    timings: { queueMs: 1.25, ttftMs: 20.5004, totalMs: 80 },
    ...overrides,
  };
}

function rows(database: ReturnType<typeof openMemoryDatabase>): RawAuditRecord[] {
  return database.prepare("SELECT sequence, recorded_at AS recordedAt, kind, body, hash FROM audit_records ORDER BY sequence").all() as RawAuditRecord[];
}

function open(content: "full" | "redacted" | "hash" = "redacted", extra: Partial<Parameters<typeof openAuditTrail>[1]> = {}) {
  const database = openMemoryDatabase();
  const { logger, lines } = capturingLogger();
  const trail = openAuditTrail(auditSchema.parse({ content }), { database, nodeId: "node-a", logger, baseDir: "/", ...extra });
  return { database, trail, lines };
}

describe("openAuditTrail", () => {
  it("records a finished request with every field, the texts after the plugins by default (redacted)", async () => {
    const { database, trail } = open();
    trail.observer.finished?.(requestEnd());
    const [record] = trail.source.after(0, 10);
    expect(record).toMatchObject({ sequence: 1, kind: "request" });
    expect(record!.body).toEqual({
      node: "node-a",
      gateway: "websocket",
      subject: "alice",
      roles: ["user", "nurse"],
      session: "ward-3",
      request_id: "0b4f6c2e-1111-4222-8333-444455556666",
      client_request_id: "client-7",
      received_at: 1_700_000_000_000,
      model: "stories260K",
      agent: "default",
      params: { max_tokens: 64, temperature: 0, top_p: null, seed: null, stop_count: 1, adapter: null, response_format: "json_schema", logprobs: null },
      content: "redacted",
      input: "call me at [PHONE]",
      output: "I will call [PHONE]",
      plugins: ["redact"],
      redactions: { input: { phone: 1 }, output: { phone: 1 } },
      outcome: "stop",
      error_code: null,
      error_message: null,
      tokens: { prompt: 12, completion: 5, cached: 0 },
      latency_ms: { queue: 1.25, ttft: 20.5, total: 80 },
      retrieved: [],
    });
    expect(verifyChain(rows(database)).broken).toBeUndefined();
    await trail.close();
  });

  it("lists the knowledge-base chunks a request was given (ids and scores, not texts or sources), and the chain verifies", async () => {
    const { database, trail } = open();
    const citations = [
      { index: 1, docId: "MR-0042", collection: "cases", source: "records/2024.jsonl:42", chunk: 0, score: 0.0328 },
      { index: 2, docId: "guide.md", collection: "guidelines", source: "guide.md", chunk: 3, score: 0.0161 },
    ];
    trail.observer.finished?.(requestEnd({ citations }));
    expect(trail.source.after(0, 1)[0]!.body.retrieved).toEqual([
      { doc_id: "MR-0042", collection: "cases", chunk: 0, score: 0.0328 },
      { doc_id: "guide.md", collection: "guidelines", chunk: 3, score: 0.0161 },
    ]);
    expect(verifyChain(rows(database)).broken).toBeUndefined();
    await trail.close();
  });

  it("keeps the texts as received and generated with content: full, and only their SM3 digests with content: hash", async () => {
    const full = open("full");
    full.trail.observer.finished?.(requestEnd());
    expect(full.trail.source.after(0, 1)[0]!.body).toMatchObject({ content: "full", input: "call me at 13800138000", output: "I will call 13800138000" });
    const hashed = open("hash");
    hashed.trail.observer.finished?.(requestEnd());
    const body = hashed.trail.source.after(0, 1)[0]!.body;
    expect(body).toMatchObject({ content: "hash", input: { sm3: sm3Hex("call me at [PHONE]") }, output: { sm3: sm3Hex("I will call [PHONE]") } });
    expect(JSON.stringify(body)).not.toContain("PHONE");
    expect(verifyChain(rows(hashed.database))).toMatchObject({ broken: undefined, erasedTexts: 2 });
    await Promise.all([full.trail.close(), hashed.trail.close()]);
  });

  it("records a failed request with its error code and message, input null when it never got that far", async () => {
    const { trail } = open();
    const error = new ClawError("plugin_error", "the redact plugin refused");
    trail.observer.failed?.(requestEnd({ outcome: "plugin_error", error, processedInput: undefined, generatedOutput: "", deliveredOutput: "" }));
    expect(trail.source.after(0, 1)[0]!.body).toMatchObject({ outcome: "plugin_error", error_code: "plugin_error", error_message: "the redact plugin refused", input: null, output: "" });
    await trail.close();
  });

  it("throws from finished when the record cannot be written, and counts it", async () => {
    const { database, trail } = open();
    database.exec("CREATE TRIGGER refuse BEFORE INSERT ON audit_records BEGIN SELECT RAISE(ABORT, 'disk full'); END");
    expect(() => trail.observer.finished?.(requestEnd())).toThrow(/disk full/);
    expect(trail.status()).toEqual({ records: 0, appendFailures: 1, sinks: [] });
    // A refused credential is not a request: its failed append is logged and counted, never thrown into the gateway.
    expect(() => trail.gatewayEvents("http").authFailed("unauthorized", "bad token")).not.toThrow();
    expect(trail.status().appendFailures).toBe(2);
    await trail.close();
  });

  it("records refused credentials (gateway, code, reason, remote) and collapses a flood into one counting record", async () => {
    const { trail, lines } = open("redacted", { authFailuresPerSecond: 2, clock: () => 5000 });
    const events = trail.gatewayEvents("websocket");
    for (let index = 0; index < 50; index += 1) events.authFailed("unauthorized", "invalid signature", "192.0.2.7");
    events.connectionOpened();
    events.frameReceived();
    const before = trail.source.after(0, 100);
    expect(before.map((record) => record.body)).toEqual([
      { node: "node-a", gateway: "websocket", code: "unauthorized", reason: "invalid signature", remote: "192.0.2.7" },
      { node: "node-a", gateway: "websocket", code: "unauthorized", reason: "invalid signature", remote: "192.0.2.7" },
    ]);
    await trail.close();
    const after = trail.source.after(2, 100);
    expect(after).toHaveLength(1);
    expect(after[0]).toMatchObject({ kind: "auth_failure", body: { gateway: "websocket", suppressed: 48, codes: { unauthorized: 48 } } });
    expect(lines.some((line) => line.msg === "refused credentials in a burst: recorded as one audit record")).toBe(true);
  });

  it("records start and stop with the node, the version and a digest of the config that holds no secret", async () => {
    const config = configSchema.parse({
      gateways: [{ type: "websocket", auth: { type: "jwt", secret: "s3cret-s3cret-s3cret-s3cret-s3cret!!" } }],
      metrics: { token: "metrics-token-0123456789" },
    });
    const { trail } = open("redacted", { config });
    trail.recordLifecycle("start", { model: "stories260K" });
    trail.recordLifecycle("stop", { reason: "shutdown" });
    const [start, stop] = trail.source.after(0, 10);
    expect(start).toMatchObject({ kind: "start", body: { node: "node-a", model: "stories260K", version: expect.stringMatching(/^\d+\.\d+\.\d+/), config_sm3: expect.stringMatching(/^[0-9a-f]{64}$/) } });
    expect(stop).toMatchObject({ kind: "stop", body: { node: "node-a", reason: "shutdown" } });
    expect(JSON.stringify(start)).not.toContain("s3cret");
    // The digest follows settings but not secrets: another secret gives the same digest, another port does not.
    const otherSecret = configSchema.parse({ ...config, gateways: [{ type: "websocket", auth: { type: "jwt", secret: "another-secret-another-secret-xyz!" } }] });
    const otherPort = configSchema.parse({ ...config, gateways: [{ ...config.gateways[0], port: 9999 }] });
    const digest = (value: unknown) => {
      const { trail: other } = open("redacted", { config: value });
      other.recordLifecycle("start", {});
      return other.source.after(0, 1)[0]!.body.config_sm3;
    };
    expect(digest(otherSecret)).toBe(start!.body.config_sm3);
    expect(digest(otherPort)).not.toBe(start!.body.config_sm3);
    await trail.close();
  });

  it("writes a checkpoint (sequence and head hash) to the log periodically and at close", async () => {
    const { trail, lines } = open();
    trail.observer.finished?.(requestEnd());
    await trail.close();
    const head = trail.source.head();
    expect(lines.filter((line) => line.msg === "audit checkpoint")).toEqual([expect.objectContaining({ level: 30, sequence: 1, hash: head.hash })]);
    vi.useFakeTimers({ toFake: ["setInterval", "clearInterval"] });
    try {
      const periodicLog = capturingLogger();
      const periodic = openAuditTrail(auditSchema.parse({ checkpoint_interval: 60 }), { database: openMemoryDatabase(), nodeId: "n", logger: periodicLog.logger, baseDir: "/" });
      const notices: number[] = [];
      periodic.source.subscribe(() => notices.push(periodic.source.head().sequence));
      periodic.recordLifecycle("start", {});
      await Promise.resolve();
      expect(notices).toEqual([1]);
      vi.advanceTimersByTime(59_000);
      expect(periodicLog.lines.filter((line) => line.msg === "audit checkpoint")).toHaveLength(0);
      vi.advanceTimersByTime(1_000);
      expect(periodicLog.lines.filter((line) => line.msg === "audit checkpoint")).toEqual([expect.objectContaining({ sequence: 1, hash: periodic.source.head().hash })]);
      // Sinks are told of a checkpoint like of an append.
      expect(notices).toEqual([1, 1]);
      await periodic.close();
    } finally {
      vi.useRealTimers();
    }
  });
});
