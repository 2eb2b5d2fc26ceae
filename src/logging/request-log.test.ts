// The request log line: ids, subject, gateway, session, tokens, timings and outcome; never a text of the request.
import { Writable } from "node:stream";
import pino from "pino";
import { describe, expect, it } from "vitest";
import { ClawError } from "../core/errors.js";
import type { RequestEnd } from "../pipeline/request-observer.js";
import { requestLog } from "./request-log.js";

/** A real pino logger at `level` whose lines are parsed into `lines`. */
function capturingLogger(level: string) {
  const lines: Record<string, unknown>[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString("utf8").split("\n")) if (line.trim()) lines.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  return { logger: pino({ level }, stream), lines };
}

const texts = {
  receivedInput: "patient 张三 phone 13812345678",
  processedInput: "patient [脱敏] phone [脱敏]",
  generatedOutput: "the generated secret answer",
  deliveredOutput: "the delivered secret answer",
};

function ending(overrides: Partial<RequestEnd> = {}): RequestEnd {
  return {
    requestId: "6f1d2c3b-1111-4222-8333-944455556666",
    clientRequestId: "client-7",
    gateway: "websocket",
    principal: { subject: "alice", roles: ["user"], scopes: [], claims: {} },
    session: "ward-3",
    model: "echo",
    agent: "default",
    params: { maxTokens: 32, temperature: 0, topP: 1 },
    receivedAt: Date.now(),
    ...texts,
    outcome: "stop",
    error: undefined,
    plugins: ["redact"],
    pluginMetadata: { redact: { input: { name: 1, phone: 1 } } },
    usage: { promptTokens: 12, completionTokens: 5, cachedPromptTokens: 3 },
    timings: { queueMs: 1.4, ttftMs: 8.6, totalMs: 20.2 },
    ...overrides,
  };
}

describe("requestLog", () => {
  it("writes one info line per finished request with ids, subject, gateway, session, tokens, timings and outcome", () => {
    const { logger, lines } = capturingLogger("info");
    requestLog(logger).finished?.(ending());
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({
      level: 30,
      msg: "request",
      request_id: "6f1d2c3b-1111-4222-8333-944455556666",
      client_request_id: "client-7",
      subject: "alice",
      gateway: "websocket",
      session: "ward-3",
      model: "echo",
      agent: "default",
      prompt_tokens: 12,
      completion_tokens: 5,
      cached_prompt_tokens: 3,
      queue_ms: 1,
      ttft_ms: 9,
      total_ms: 20,
      outcome: "stop",
    });
  });

  it("writes a failed request's error code at info", () => {
    const { logger, lines } = capturingLogger("info");
    const error = new ClawError("forbidden", "The topic is not allowed here.");
    requestLog(logger).failed?.(ending({ outcome: "forbidden", error, processedInput: undefined }));
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ level: 30, msg: "request failed", outcome: "forbidden", error: "forbidden", request_id: expect.any(String), subject: "alice" });
  });

  it("never writes a text of the request, nor the plugins' metadata, at any level", () => {
    const { logger, lines } = capturingLogger("trace");
    const log = requestLog(logger);
    log.finished?.(ending());
    log.failed?.(ending({ outcome: "storage_error", error: new ClawError("storage_error", "disk full") }));
    expect(lines).toHaveLength(2);
    const written = JSON.stringify(lines);
    for (const text of [...Object.values(texts), "张三", "13812345678", "secret"]) expect(written).not.toContain(text);
    expect(written).not.toContain("phone");
  });

  it("writes nothing below info when the node logs at warn", () => {
    const { logger, lines } = capturingLogger("warn");
    requestLog(logger).finished?.(ending());
    expect(lines).toHaveLength(0);
  });
});
