// `clawbot restore <file>`: puts a backup in place of a stopped node's database, keeping the one it replaces.
import type { Command } from "commander";
import type { DataDirectoryOptions } from "./data-directory.js";

interface RestoreCommandOptions extends DataDirectoryOptions {
  force?: boolean;
}

export function registerRestoreCommand(program: Command): void {
  program
    .command("restore <file>")
    .description("Put a backup in place of the node's database (the node must be stopped); the current database is moved aside, never deleted")
    .option("-c, --config <file>", "the node's clawbot.yaml, for agent.data_dir (default: ./clawbot.yaml when present)")
    .option("--data-dir <dir>", "the node's data directory (default: agent.data_dir of the config, else $CLAWBOT_HOME/data)")
    .option("--force", "restore even when the current audit ledger has records the backup lacks (the ledger goes back to the backup's head)")
    .action(async (file: string, options: RestoreCommandOptions) => {
      try {
        // Loaded here, not at the top: `clawbot --help` needs none of it.
        const { dataDirectory } = await import("./data-directory.js");
        const { runningNode } = await import("../daemon/pid-file.js");
        const { restoreDatabase } = await import("../store/database-restore.js");
        const { describeSummary } = await import("../store/database-summary.js");
        const dataDir = await dataDirectory(options);
        // Never under a running node, whatever --force says: it would go on writing to the database moved aside.
        const running = runningNode(dataDir);
        if (running) {
          throw new Error(
            `a node (pid ${running.pid}, ${running.file}) is running on ${dataDir}: stop it first. Restore replaces the database of a stopped node only; ` +
              `to copy a running node's database, use clawbot backup.`,
          );
        }
        const result = restoreDatabase(dataDir, file, { force: options.force ?? false });
        const lines = [`Restored ${file} into ${result.database} (quick_check ok): ${describeSummary(result.summary)}`];
        if (result.movedAside.length > 0) {
          lines.push(
            `The database it replaced is kept: ${result.movedAside.join(", ")}`,
            `The way back (with the node stopped): clawbot restore ${result.movedAside[0]} --data-dir ${dataDir} --force`,
          );
        }
        lines.push("Start the node to use it; sessions resume from the backup's history.");
        process.stdout.write(`${lines.join("\n")}\n`);
      } catch (error) {
        process.stderr.write(`clawbot restore: ${(error as Error).message}\n`);
        process.exitCode = 1;
      }
    });
}
