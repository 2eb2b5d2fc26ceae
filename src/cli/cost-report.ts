// What the tokens a node served would have cost on a per-token cloud API: totals of the audit ledger's request records, by month, gateway and model.
import { isErasedText } from "../audit/audit-canonical.js";
import type { SqliteDatabase } from "../store/database.js";

export interface CostPrices {
  /** Per 1,000 prompt (input) tokens. */
  input: number;
  /** Per 1,000 completion (output) tokens. */
  output: number;
}

export interface TokenTotals {
  requests: number;
  /** Requests whose outcome was an error (they count with the tokens they used: usually none). */
  failed: number;
  prompt: number;
  completion: number;
  /** Prompt tokens served from the node's context cache (a part of `prompt`). */
  cached: number;
  total: number;
  cost: number;
}

export interface CostReport {
  totals: TokenTotals;
  byMonth: (TokenTotals & { month: string })[];
  byGateway: (TokenTotals & { gateway: string })[];
  byModel: (TokenTotals & { model: string })[];
  /** Request records whose texts are digests only (erased, or `audit.content: hash`): their token counts are still there. */
  erasedRecords: number;
}

/** The finish reasons; any other outcome is an error code. */
const finishReasons = new Set(["stop", "length", "cancelled", "tool_calls"]);

/** Request records with since ≤ received_at < until (epoch ms), read in one snapshot. */
export function costReport(database: SqliteDatabase, range: { since: number; until: number }, prices: CostPrices): CostReport {
  const totals = emptyTotals();
  const months = new Map<string, TokenTotals>();
  const gateways = new Map<string, TokenTotals>();
  const models = new Map<string, TokenTotals>();
  let erasedRecords = 0;
  const select = database.prepare("SELECT recorded_at, body FROM audit_records WHERE kind = 'request' ORDER BY sequence");
  database.transaction(() => {
    for (const row of select.iterate() as IterableIterator<{ recorded_at: number; body: string }>) {
      let body: Record<string, unknown>;
      try {
        body = JSON.parse(row.body) as Record<string, unknown>;
      } catch {
        continue;
      }
      const at = typeof body.received_at === "number" ? body.received_at : row.recorded_at;
      if (at < range.since || at >= range.until) continue;
      const tokens = (body.tokens ?? {}) as Record<string, unknown>;
      const usage = { prompt: count(tokens.prompt), completion: count(tokens.completion), cached: count(tokens.cached) };
      const failed = typeof body.outcome === "string" && !finishReasons.has(body.outcome);
      if (body.content === "hash" || isErasedText(body.input) || isErasedText(body.output)) erasedRecords += 1;
      for (const group of [totals, bucket(months, monthOf(at)), bucket(gateways, label(body.gateway)), bucket(models, label(body.model))]) {
        add(group, usage, failed);
      }
    }
  })();
  const priced = (group: TokenTotals): TokenTotals => ({ ...group, total: group.prompt + group.completion, cost: cost(group, prices) });
  return {
    totals: priced(totals),
    byMonth: [...months].sort(([a], [b]) => a.localeCompare(b)).map(([month, group]) => ({ month, ...priced(group) })),
    byGateway: [...gateways].sort(([a], [b]) => a.localeCompare(b)).map(([gateway, group]) => ({ gateway, ...priced(group) })),
    byModel: [...models].sort(([a], [b]) => a.localeCompare(b)).map(([model, group]) => ({ model, ...priced(group) })),
    erasedRecords,
  };
}

/** Cloud APIs bill prompt and completion tokens per 1,000 (cached prompt tokens at the full input price here: the upper bound). */
export function cost(tokens: { prompt: number; completion: number }, prices: CostPrices): number {
  return (tokens.prompt * prices.input + tokens.completion * prices.output) / 1000;
}

function emptyTotals(): TokenTotals {
  return { requests: 0, failed: 0, prompt: 0, completion: 0, cached: 0, total: 0, cost: 0 };
}

function bucket(groups: Map<string, TokenTotals>, key: string): TokenTotals {
  let group = groups.get(key);
  if (!group) groups.set(key, (group = emptyTotals()));
  return group;
}

function add(group: TokenTotals, usage: { prompt: number; completion: number; cached: number }, failed: boolean): void {
  group.requests += 1;
  if (failed) group.failed += 1;
  group.prompt += usage.prompt;
  group.completion += usage.completion;
  group.cached += usage.cached;
}

/** A token count as recorded; anything else (a record from a version without counts) is zero. */
function count(value: unknown): number {
  return typeof value === "number" && Number.isFinite(value) && value > 0 ? value : 0;
}

/** A record's gateway or model name: a string as written, anything else (a hostile or damaged body) "unknown". */
function label(value: unknown): string {
  return typeof value === "string" ? value : "unknown";
}

/** The UTC month (YYYY-MM) of an epoch-ms time, or "unknown" for one no Date can hold. */
function monthOf(at: number): string {
  const date = new Date(at);
  return Number.isNaN(date.getTime()) ? "unknown" : date.toISOString().slice(0, 7);
}
