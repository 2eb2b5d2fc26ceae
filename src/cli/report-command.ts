// `clawbot report cost`: the tokens the node served (from its audit ledger) and what a per-token cloud API would have billed for them.
import fs from "node:fs";
import type { Command } from "commander";
import type { CostPrices, CostReport, TokenTotals } from "./cost-report.js";

interface CostOptions {
  pricePer1k: string;
  inputPricePer1k?: string;
  currency: string;
  since?: string;
  until?: string;
  config?: string;
  dataDir?: string;
  json?: boolean;
}

/** Exit codes: 0 reported, 1 no ledger to read, 2 usage error. */
const noLedger = 1;
const usageError = 2;

class UsageError extends Error {}
class NoLedgerError extends Error {}

export function registerReportCommand(program: Command): void {
  const report = program
    .command("report")
    .description("Reports from the node's own records.")
    .exitOverride((error) => process.exit(error.exitCode === 0 ? 0 : usageError));
  report
    .command("cost")
    .description("Total the tokens served (the audit ledger's request records) by month, and what the same traffic would have cost on a per-token cloud API. Exit 0: reported; 1: no ledger to read; 2: usage error.")
    .requiredOption("--price-per-1k <amount>", "the cloud API's price per 1,000 completion tokens (and prompt tokens, unless --input-price-per-1k)")
    .option("--input-price-per-1k <amount>", "its price per 1,000 prompt tokens, when it differs")
    .option("--currency <code>", "the prices' currency, as a 3-letter code (USD, CNY, EUR)", "USD")
    .option("--since <time>", "from this time: ISO 8601 (2026-03-01) or a duration before now (24h, 7d, 2w); default: the first record")
    .option("--until <time>", "up to (not including) this time, same forms (default: now)")
    .option("-c, --config <file>", "the node's clawbot.yaml, for agent.data_dir and audit.enabled (default: ./clawbot.yaml when present)")
    .option("--data-dir <dir>", "the node's data directory (default: agent.data_dir of the config, else $CLAWBOT_HOME/data)")
    .option("--json", "print the report as one JSON object (with totals by gateway and by model)")
    .action(async (options: CostOptions) => {
      try {
        await reportCost(options);
      } catch (error) {
        process.stderr.write(`clawbot report cost: ${(error as Error).message}\n`);
        process.exitCode = error instanceof NoLedgerError ? noLedger : usageError;
      }
    });
}

async function reportCost(options: CostOptions): Promise<void> {
  const prices: CostPrices = { output: price("--price-per-1k", options.pricePer1k), input: price("--input-price-per-1k", options.inputPricePer1k ?? options.pricePer1k) };
  const currency = options.currency.toUpperCase();
  if (!/^[A-Z]{3}$/.test(currency)) throw new UsageError(`--currency: expected a 3-letter currency code such as USD or CNY, got "${options.currency}"`);
  const { AuditReadError, openAuditDatabase, parseTimeArgument } = await import("../audit/audit-database.js");
  const now = Date.now();
  const time = (flag: string, text: string) => {
    try {
      return parseTimeArgument(text, now);
    } catch (error) {
      throw new UsageError(`${flag}: ${(error as Error).message}`);
    }
  };
  const since = options.since === undefined ? 0 : time("--since", options.since);
  const until = options.until === undefined ? now + 1 : time("--until", options.until);
  // Only two given bounds can contradict each other; --since in the future alone is an empty range (zero tokens).
  if (options.since !== undefined && options.until !== undefined && since > until) throw new UsageError(`--since (${new Date(since).toISOString()}) is after --until (${new Date(until).toISOString()})`);

  const configPath = options.config ?? (fs.existsSync("clawbot.yaml") ? "clawbot.yaml" : undefined);
  if (configPath !== undefined) {
    const { loadConfig } = await import("../config/load.js");
    if (!loadConfig({ configPath }).config.audit.enabled) {
      throw new NoLedgerError(`${configPath} has audit.enabled: false: the node keeps no audit ledger, so there are no served tokens to read (turn it on to count from then on)`);
    }
  }
  const { dataDirectory } = await import("./data-directory.js");
  const dataDir = await dataDirectory({ dataDir: options.dataDir, config: configPath });
  let database: ReturnType<typeof openAuditDatabase>;
  try {
    database = openAuditDatabase(dataDir);
  } catch (error) {
    if (error instanceof AuditReadError) throw new NoLedgerError(`no audit ledger to read: ${error.message}`);
    throw error;
  }
  const { costReport } = await import("./cost-report.js");
  let report: CostReport;
  try {
    report = costReport(database, { since, until }, prices);
  } finally {
    database.close();
  }
  const range = { since: options.since === undefined ? null : new Date(since).toISOString(), until: new Date(Math.min(until, now)).toISOString() };
  if (options.json) {
    const json = {
      data_dir: dataDir,
      ...range,
      currency,
      price_per_1k: { prompt: prices.input, completion: prices.output },
      totals: report.totals,
      by_month: report.byMonth,
      by_gateway: report.byGateway,
      by_model: report.byModel,
      erased_records: report.erasedRecords,
    };
    process.stdout.write(`${JSON.stringify(json)}\n`);
    return;
  }
  process.stdout.write(costTable(report, { dataDir, currency, prices, ...range }));
}

/** A non-negative decimal number (no exponent, no sign): anything else is a usage error. */
function price(flag: string, text: string): number {
  const value = Number(text);
  if (!/^\d+(\.\d+)?$|^\.\d+$/.test(text.trim()) || !Number.isFinite(value)) {
    throw new UsageError(`${flag}: expected a price of 0 or more, such as 0.002, got "${text}"`);
  }
  return value;
}

export function costTable(report: CostReport, context: { dataDir: string; currency: string; prices: CostPrices; since: string | null; until: string }): string {
  const header = ["month", "requests", "failed", "prompt", "completion", "total", `cost (${context.currency})`];
  const row = (label: string, group: TokenTotals) => [label, group.requests, group.failed, group.prompt, group.completion, group.total, formatMoney(group.cost)].map(String);
  const rows = [header, ...report.byMonth.map((month) => row(month.month, month)), row("total", report.totals)];
  const widths = header.map((_, column) => Math.max(...rows.map((cells) => (cells[column] as string).length)));
  const line = (cells: string[]) => cells.map((cell, column) => (column === 0 ? cell.padEnd(widths[column] as number) : cell.padStart(widths[column] as number))).join("  ");
  const { prices, currency } = context;
  const lines = [
    `Tokens served by the node (audit ledger in ${context.dataDir}), ${context.since ? `from ${context.since}` : "from the first record"} to ${context.until}:`,
    "",
    ...rows.map(line),
    "",
    prices.input === prices.output
      ? `Priced at ${prices.output} ${currency} per 1,000 tokens (prompt and completion), as a per-token cloud API bills the same traffic.`
      : `Priced at ${prices.input} ${currency} per 1,000 prompt tokens and ${prices.output} ${currency} per 1,000 completion tokens, as a per-token cloud API bills the same traffic.`,
    "Served locally, those tokens cost only the hardware and power (and no data leaves the network).",
  ];
  if (report.totals.cached > 0) lines.push(`${report.totals.cached} of the prompt tokens came from the node's context cache; they are priced at the full prompt price.`);
  if (report.erasedRecords > 0) lines.push(`${report.erasedRecords} records hold only digests of their texts (erased or audit.content: hash): their token counts are still kept, and counted.`);
  else lines.push("Records whose texts were erased or kept as digests still carry their token counts: they are counted too.");
  return `${lines.join("\n")}\n`;
}

/** Cents for amounts of a cent or more; small amounts keep six decimals so a test run's cost is not shown as 0. */
export function formatMoney(amount: number): string {
  return amount >= 0.01 ? amount.toFixed(2) : amount.toFixed(6);
}
