// `clawbot backup <file>`: an online, consistent copy of the node's database, taken while the node serves.
import path from "node:path";
import type { Command } from "commander";
import type { DataDirectoryOptions } from "./data-directory.js";

interface BackupCommandOptions extends DataDirectoryOptions {
  force?: boolean;
}

export function registerBackupCommand(program: Command): void {
  program
    .command("backup <file>")
    .description("Copy the node's database (sessions, audit ledger, MQTT ledger) to <file> while it serves: SQLite's online backup, checked with integrity_check")
    .option("-c, --config <file>", "the node's clawbot.yaml, for agent.data_dir (default: ./clawbot.yaml when present)")
    .option("--data-dir <dir>", "the node's data directory (default: agent.data_dir of the config, else $CLAWBOT_HOME/data)")
    .option("--force", "replace <file> when it exists")
    .action(async (file: string, options: BackupCommandOptions) => {
      try {
        // Loaded here, not at the top: `clawbot --help` needs none of it.
        const { dataDirectory } = await import("./data-directory.js");
        const { backupDatabase } = await import("../store/database-backup.js");
        const { describeSummary } = await import("../store/database-summary.js");
        const dataDir = await dataDirectory(options);
        const startedAt = performance.now();
        const result = await backupDatabase(dataDir, file, { force: options.force ?? false });
        const seconds = ((performance.now() - startedAt) / 1000).toFixed(2);
        process.stdout.write(
          `Backed up ${result.source} to ${result.file} in ${seconds} s (integrity_check ok): ${describeSummary(result.summary)}\n` +
            `Not included: saved sequence states (${path.join(dataDir, "sequence-states")}, agent.persist_state) are a cache; conversations are read again without them.\n` +
            `Restore it on the stopped node: clawbot restore ${result.file} --data-dir ${dataDir}\n`,
        );
      } catch (error) {
        process.stderr.write(`clawbot backup: ${(error as Error).message}\n`);
        process.exitCode = 1;
      }
    });
}
