// The node's data directory for commands that work on its files (backup, restore, audit), resolved as `clawbot start` does.
import fs from "node:fs";
import path from "node:path";

export interface DataDirectoryOptions {
  /** --data-dir: wins over everything. */
  dataDir?: string;
  /** -c/--config: the node's clawbot.yaml (default: ./clawbot.yaml when present). */
  config?: string;
}

/**
 * --data-dir, else the config's agent.data_dir (relative to the config file), else $CLAWBOT_HOME/data: the same
 * directory `clawbot start` with that config uses. The config modules load only when needed (`--help` stays fast).
 */
export async function dataDirectory(options: DataDirectoryOptions, environment: NodeJS.ProcessEnv = process.env): Promise<string> {
  if (options.dataDir) return path.resolve(options.dataDir);
  const configPath = options.config ?? (fs.existsSync("clawbot.yaml") ? "clawbot.yaml" : undefined);
  if (configPath) {
    const { loadConfig } = await import("../config/load.js");
    const loaded = loadConfig({ configPath });
    if (loaded.config.agent.data_dir) return path.resolve(loaded.baseDir, loaded.config.agent.data_dir);
  }
  const { clawbotHome } = await import("../config/paths.js");
  return path.join(clawbotHome(environment), "data");
}
