// `clawbot doctor`'s first check: the config loads and validates (every unset ${ENV} named), and what the other checks need from it.
import { randomBytes } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { ConfigError, loadConfig, type LoadedConfig } from "../config/load.js";
import { clawbotHome } from "../config/paths.js";
import { configSchema } from "../config/schema.js";
import { fail, ok, warn, type DoctorCheck } from "./doctor-check.js";

export interface DoctorConfig {
  check: DoctorCheck;
  /** Undefined when the config did not load: the other checks cannot run. */
  loaded?: LoadedConfig;
  /** The node's data directory, as `clawbot start` resolves it. */
  dataDir?: string;
}

/** --config, else ./clawbot.yaml, else the first-run defaults `clawbot start` would use (read, never written here). */
export function loadDoctorConfig(configOption: string | undefined, environment: NodeJS.ProcessEnv): DoctorConfig {
  const configPath = configOption ?? (fs.existsSync("clawbot.yaml") ? "clawbot.yaml" : undefined);
  if (configPath === undefined) {
    const loaded = firstRunDefaults(environment);
    return {
      check: warn("config", "no --config and no ./clawbot.yaml: checking the first-run defaults (WebSocket and HTTP on 127.0.0.1:8080)", "write a clawbot.yaml (clawbot init makes one) and pass it: clawbot doctor --config clawbot.yaml"),
      loaded,
      dataDir: path.join(clawbotHome(environment), "data"),
    };
  }
  const unset = unsetVariables(configPath, environment);
  try {
    const loaded = loadConfig({ configPath, environment });
    const dataDir = loaded.config.agent.data_dir ? path.resolve(loaded.baseDir, loaded.config.agent.data_dir) : path.join(clawbotHome(environment), "data");
    return { check: ok("config", `${path.resolve(configPath)} loads and validates`), loaded, dataDir };
  } catch (error) {
    // Anything else (a document nested too deep for the stack) is a broken config too, never a crash of the doctor.
    if (!(error instanceof ConfigError)) return { check: fail("config", `${configPath}: cannot load it (${(error as Error).message})`, `correct ${configPath}: docs/configuration.md lists every key`) };
    const fix =
      unset.length > 0
        ? `set ${unset.join(", ")} in the node's environment (or give a default: \${NAME:-value}), then run clawbot doctor again`
        : `correct ${configPath} as the message says (docs/configuration.md lists every key), then run clawbot doctor again`;
    const message = unset.length > 0 ? `${error.message}${unset.length > 1 ? ` (unset: ${unset.join(", ")})` : ""}` : error.message;
    return { check: fail("config", message.replace(/\n/g, "; "), fix) };
  }
}

/** Every ${NAME} (without a :-default) the file refers to whose variable is not set: the loader stops at the first one. */
export function unsetVariables(file: string, environment: NodeJS.ProcessEnv): string[] {
  let text: string;
  try {
    text = fs.readFileSync(file, "utf8");
  } catch {
    return [];
  }
  const names = new Set<string>();
  for (const match of text.matchAll(/\$\{([A-Za-z_][A-Za-z0-9_]*)(:-[^}]*)?\}/g)) {
    const name = match[1] as string;
    // A commented-out line is not part of the config.
    const lineStart = text.lastIndexOf("\n", match.index) + 1;
    if (/^\s*#/.test(text.slice(lineStart, match.index))) continue;
    if (match[2] === undefined && environment[name] === undefined) names.add(name);
  }
  return [...names];
}

/** The first-run config without creating its secret file: the existing secret, else a stand-in (start makes a random one). */
function firstRunDefaults(environment: NodeJS.ProcessEnv): LoadedConfig {
  const file = path.join(clawbotHome(environment), "jwt-secret");
  let secret = "";
  try {
    secret = fs.readFileSync(file, "utf8").trim();
  } catch {
    // Not made yet: `clawbot start` writes 32 random bytes, which pass the secret check.
  }
  const auth = { type: "jwt", secret: secret || randomBytes(32).toString("base64url") };
  const config = configSchema.parse({ gateways: [{ type: "websocket", port: 8080, auth }, { type: "http", port: 8080, auth }] });
  return { config, baseDir: clawbotHome(environment), sources: [] };
}
