// `clawbot erase --subject <sub>`: erases a data subject's personal data from a stopped node (PIPL; POST /admin/erase on a running one).
import type { Command } from "commander";
import type { DataDirectoryOptions } from "./data-directory.js";

interface EraseCommandOptions extends DataDirectoryOptions {
  subject: string;
  json?: boolean;
}

export function registerEraseCommand(program: Command): void {
  program
    .command("erase")
    .description(
      "Erase a data subject's personal data from a stopped node: its sessions, MQTT requests and saved states are deleted, its texts in the audit " +
        "ledger replaced by their SM3 digests (the chain still verifies), and an `erasure` tombstone recorded. On a running node use POST /admin/erase.",
    )
    .requiredOption("--subject <subject>", "the subject to erase (the JWT sub of its tokens)")
    .option("-c, --config <file>", "the node's clawbot.yaml, for agent.data_dir and node_id (default: ./clawbot.yaml when present)")
    .option("--data-dir <dir>", "the node's data directory (default: agent.data_dir of the config, else $CLAWBOT_HOME/data)")
    .option("--json", "print the result as one JSON object")
    .action(async (options: EraseCommandOptions) => {
      try {
        // Loaded here, not at the top: `clawbot --help` needs none of it.
        const os = await import("node:os");
        const { dataDirectory } = await import("./data-directory.js");
        const { acquirePidFile, runningNode } = await import("../daemon/pid-file.js");
        const { openDatabase } = await import("../store/database.js");
        const { AuditLedger } = await import("../audit/audit-ledger.js");
        const { eraseSubject } = await import("../daemon/subject-erasure.js");
        if (options.subject.length === 0) throw new Error("--subject must not be empty");
        const dataDir = await dataDirectory(options);
        const running = runningNode(dataDir);
        if (running) {
          throw new Error(
            `a node (pid ${running.pid}, ${running.file}) is running on ${dataDir}: erase through it with POST /admin/erase (an admin token), ` +
              `or stop it and run this again.`,
          );
        }
        // Held while erasing: a node starting now would open the database under this command.
        const pidFile = acquirePidFile(dataDir);
        try {
          const database = openDatabase(dataDir);
          try {
            const nodeId = await configuredNodeId(options.config);
            const ledger = new AuditLedger(database);
            const result = eraseSubject({
              database,
              dataDir,
              subject: options.subject,
              by: `cli:${os.userInfo().username}`,
              recordTombstone: (body) => void ledger.append("erasure", { ...body, node: nodeId ?? os.hostname() }),
            });
            const head = ledger.head();
            if (options.json) {
              process.stdout.write(`${JSON.stringify({ data_dir: dataDir, ...result, tombstone: head })}\n`);
            } else {
              const counts = Object.entries(result.counts).map(([kind, count]) => `${kind} ${count}`).join(", ");
              process.stdout.write(
                `Erased subject sm3:${result.subject.sm3} from ${dataDir}: ${counts}.\n` +
                  `Tombstone: audit record ${head.sequence}. Check the ledger with: clawbot audit verify --data-dir ${dataDir}\n`,
              );
            }
          } finally {
            database.close();
          }
        } finally {
          pidFile.release();
        }
      } catch (error) {
        process.stderr.write(`clawbot erase: ${(error as Error).message}\n`);
        process.exitCode = 1;
      }
    });
}

/** The config's node_id when a config is given (or ./clawbot.yaml exists), for the tombstone's `node`. */
async function configuredNodeId(configPath: string | undefined): Promise<string | undefined> {
  const fs = await import("node:fs");
  const file = configPath ?? (fs.existsSync("clawbot.yaml") ? "clawbot.yaml" : undefined);
  if (!file) return undefined;
  const { loadConfig } = await import("../config/load.js");
  return loadConfig({ configPath: file }).config.node_id;
}
