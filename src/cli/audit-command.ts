// `clawbot audit verify|export`: checks the node's hash-chained audit ledger, or writes a time range of it as JSONL.
import type { Command } from "commander";
import { dataDirectory } from "./data-directory.js";

interface LedgerOptions {
  dataDir?: string;
  config?: string;
}

interface VerifyOptions extends LedgerOptions {
  json?: boolean;
}

interface ExportOptions extends LedgerOptions {
  since: string;
  until?: string;
  format: string;
}

/** Exit codes: 0 intact (or exported), 1 the chain is broken, 2 usage or I/O error. */
const usageError = 2;

export function registerAuditCommand(program: Command): void {
  const audit = program
    .command("audit")
    .description("Check or export the node's tamper-evident audit ledger (docs/audit.md).")
    // Usage errors (unknown option, missing --since) exit 2, like I/O errors: 1 means only "the chain is broken".
    .exitOverride((error) => process.exit(error.exitCode === 0 ? 0 : usageError));
  const ledgerOptions = (command: Command): Command =>
    command
      .option("--data-dir <dir>", "the node's data directory (default: agent.data_dir of the config, else $CLAWBOT_HOME/data)")
      .option("-c, --config <file>", "the node's clawbot.yaml, for agent.data_dir (default: ./clawbot.yaml when present)");

  ledgerOptions(audit.command("verify"))
    .description("Re-compute the SM3 hash chain from the first record. Exit 0: intact; 1: names the first changed, missing or reordered record; 2: cannot read it.")
    .option("--json", "print the result as one JSON object")
    .action(async (options: VerifyOptions) => {
      await guarded("verify", async () => {
        const { verifyLedger } = await import("../audit/audit-database.js");
        const dataDir = await dataDirectory(options);
        const summary = verifyLedger(dataDir);
        const report = {
          ok: summary.broken === undefined,
          data_dir: dataDir,
          records: summary.records,
          head: summary.head,
          first_at: isoTime(summary.firstAt),
          last_at: isoTime(summary.lastAt),
          erased_texts: summary.erasedTexts,
          broken: summary.broken ?? null,
        };
        if (options.json) process.stdout.write(`${JSON.stringify(report)}\n`);
        else if (summary.broken) {
          process.stdout.write(
            `audit ledger in ${dataDir}: BROKEN at sequence ${summary.broken.sequence} (${summary.broken.problem}): ${summary.broken.message}\n` +
              `  intact before it: ${summary.records} records, head ${summary.head.sequence} ${summary.head.hash}\n`,
          );
        } else {
          process.stdout.write(
            `audit ledger in ${dataDir}: intact\n` +
              `  records: ${summary.records}\n` +
              `  head:    sequence ${summary.head.sequence} hash ${summary.head.hash}\n` +
              (summary.records > 0 ? `  from ${report.first_at} to ${report.last_at}\n` : ""),
          );
        }
        process.exitCode = summary.broken ? 1 : 0;
      });
    });

  ledgerOptions(audit.command("export"))
    .description("Write the records recorded in a time range to stdout, one JSON object per line, in sequence order.")
    .requiredOption("--since <time>", "from this time: ISO 8601 (2026-03-01, 2026-03-01T08:00:00Z) or a duration before now (90s, 15m, 24h, 7d, 2w)")
    .option("--until <time>", "up to (not including) this time, same forms (default: now)")
    .option("--format <format>", "jsonl (the only one)", "jsonl")
    .action(async (options: ExportOptions) => {
      await guarded("export", async () => {
        if (options.format !== "jsonl") throw new UsageError(`--format: expected jsonl, got "${options.format}"`);
        const { exportRecords, openAuditDatabase, parseTimeArgument } = await import("../audit/audit-database.js");
        const now = Date.now();
        const since = parseTimeArgument(options.since, now);
        const until = options.until === undefined ? now + 1 : parseTimeArgument(options.until, now);
        const database = openAuditDatabase(await dataDirectory(options));
        try {
          for (const record of exportRecords(database, since, until)) {
            if (!process.stdout.write(`${JSON.stringify(record)}\n`)) await new Promise((resolve) => process.stdout.once("drain", resolve));
          }
        } finally {
          database.close();
        }
      });
    });
}

class UsageError extends Error {}

/** Runs an action; a usage or read failure is one line on stderr and exit code 2. */
async function guarded(name: string, action: () => Promise<void>): Promise<void> {
  try {
    await action();
  } catch (error) {
    process.stderr.write(`clawbot audit ${name}: ${(error as Error).message}\n`);
    process.exitCode = usageError;
  }
}

function isoTime(epochMs: number | undefined): string | null {
  return epochMs === undefined ? null : new Date(epochMs).toISOString();
}
