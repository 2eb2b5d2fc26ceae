// Tests for costReport: request records only, the time range, groups by month / gateway / model, failures and erased records, the price arithmetic.
import Database from "better-sqlite3";
import { describe, expect, it } from "vitest";
import { cost, costReport } from "./cost-report.js";
import { formatMoney } from "./report-command.js";

function ledger(records: { kind?: string; recordedAt: number; body: Record<string, unknown> | string }[]) {
  const database = new Database(":memory:");
  database.exec("CREATE TABLE audit_records (sequence INTEGER PRIMARY KEY AUTOINCREMENT, recorded_at INTEGER NOT NULL, kind TEXT NOT NULL, body TEXT NOT NULL, hash TEXT NOT NULL)");
  const insert = database.prepare("INSERT INTO audit_records (recorded_at, kind, body, hash) VALUES (?, ?, ?, 'h')");
  for (const record of records) insert.run(record.recordedAt, record.kind ?? "request", typeof record.body === "string" ? record.body : JSON.stringify(record.body));
  return database;
}

const march = Date.parse("2026-03-15T10:00:00Z");
const april = Date.parse("2026-04-02T10:00:00Z");
const request = (receivedAt: number, gateway: string, prompt: number, completion: number, extra: Record<string, unknown> = {}) => ({
  recordedAt: receivedAt + 500,
  body: { gateway, model: "qwen", received_at: receivedAt, outcome: "stop", error_code: null, content: "redacted", input: "q", output: "a", tokens: { prompt, completion, cached: 1 }, ...extra },
});

describe("costReport", () => {
  const database = ledger([
    request(march, "http", 100, 50),
    request(march + 1000, "websocket", 10, 5, { input: { sm3: "ab".repeat(32) }, output: { sm3: "cd".repeat(32) } }),
    request(april, "mqtt", 7, 0, { outcome: "overloaded", error_code: "overloaded", tokens: { prompt: 0, completion: 0, cached: 0 } }),
    { kind: "tool_call", recordedAt: march, body: { gateway: "http", tokens: { prompt: 999, completion: 999 } } },
    { kind: "start", recordedAt: march, body: { node: "n" } },
    { recordedAt: april, body: "not json" },
  ]);
  const prices = { input: 0.001, output: 0.002 };

  it("totals request records only, by month, gateway and model, with failures and erased records counted", () => {
    const report = costReport(database, { since: 0, until: Number.MAX_SAFE_INTEGER }, prices);
    expect(report.totals).toMatchObject({ requests: 3, failed: 1, prompt: 110, completion: 55, cached: 2, total: 165 });
    expect(report.totals.cost).toBeCloseTo((110 * 0.001 + 55 * 0.002) / 1000, 15);
    expect(report.byMonth.map((month) => [month.month, month.requests, month.total])).toEqual([
      ["2026-03", 2, 165],
      ["2026-04", 1, 0],
    ]);
    expect(report.byGateway.map((group) => [group.gateway, group.prompt])).toEqual([
      ["http", 100],
      ["mqtt", 0],
      ["websocket", 10],
    ]);
    expect(report.byModel).toEqual([expect.objectContaining({ model: "qwen", requests: 3 })]);
    expect(report.erasedRecords).toBe(1);
  });

  it("keeps since ≤ received_at < until", () => {
    expect(costReport(database, { since: march + 1000, until: april }, prices).totals).toMatchObject({ requests: 1, prompt: 10 });
    expect(costReport(database, { since: april + 1, until: april + 2 }, prices).totals).toMatchObject({ requests: 0, cost: 0 });
  });

  it("prices per 1,000 tokens and prints small amounts with six decimals", () => {
    expect(cost({ prompt: 1000, completion: 2000 }, { input: 0.5, output: 1 })).toBe(2.5);
    expect(formatMoney(0.000084)).toBe("0.000084");
    expect(formatMoney(12.345)).toBe("12.35");
    expect(formatMoney(0)).toBe("0.000000");
  });
});
