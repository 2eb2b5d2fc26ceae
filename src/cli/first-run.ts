// The configuration `clawbot start` uses when none is given (WebSocket + HTTP on localhost:8080, generated secret), and the line naming the config in use.
import { randomBytes } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import type { LoadedConfig } from "../config/load.js";
import { clawbotHome } from "../config/paths.js";
import { configSchema } from "../config/schema.js";
import { ensurePrivateDirectory, writePrivateFile } from "../core/private-files.js";

/** A random secret, created once under $CLAWBOT_HOME (0700) as a 0600 file and reused, so issued tokens survive restarts. */
export function persistentSecret(environment: NodeJS.ProcessEnv): string {
  const file = path.join(clawbotHome(environment), "jwt-secret");
  if (fs.existsSync(file)) return fs.readFileSync(file, "utf8").trim();
  const secret = randomBytes(32).toString("base64url");
  ensurePrivateDirectory(path.dirname(file));
  writePrivateFile(file, `${secret}\n`);
  return secret;
}

export function firstRunConfig(environment: NodeJS.ProcessEnv): LoadedConfig {
  const auth = { type: "jwt", secret: persistentSecret(environment) };
  const config = configSchema.parse({
    gateways: [
      { type: "websocket", port: 8080, auth },
      { type: "http", port: 8080, auth },
    ],
  });
  return { config, baseDir: clawbotHome(environment), sources: [] };
}

/** The line `clawbot start` prints first: which config files it loaded, or that it runs on built-in defaults. */
export function configDescription(options: {
  configPath: string | undefined;
  /** The config is ./clawbot.yaml, picked up without --config. */
  implicit: boolean;
  agentPath?: string;
  gatewaysPath?: string;
  environment: NodeJS.ProcessEnv;
}): string {
  const files = [options.configPath, options.agentPath, options.gatewaysPath].filter((file): file is string => file !== undefined);
  if (files.length === 0) {
    const secretFile = path.join(clawbotHome(options.environment), "jwt-secret");
    return `Config: none (no --config and no ./clawbot.yaml here): built-in defaults, JWT secret in ${secretFile}`;
  }
  const described = files.map((file) => path.resolve(file)).join(", ");
  return options.implicit ? `Config: ${described} (found in the working directory; --config <file> loads another)` : `Config: ${described}`;
}
