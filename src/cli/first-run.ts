// The configuration `clawbot start` uses when none is given: WebSocket + HTTP on localhost:8080 with a generated secret.
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
