// Starts a Clawbot daemon for the benchmarks: WebSocket + HTTP sharing one loopback port 0, JWT auth, a throwaway data dir.
import { randomBytes } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { configSchema } from "../src/config/schema.js";
import { createDaemon, type Daemon } from "../src/daemon/daemon.js";
import { silentLogger } from "../src/logging/logger.js";
import { issueToken } from "../src/security/jwt-issuer.js";

export interface BenchNode {
  daemon: Daemon;
  wsUrl: string;
  httpUrl: string;
  /** A valid bearer token for both gateways. */
  token: string;
  close(): Promise<void>;
}

/**
 * `extra`: more top-level config keys (metrics, audit). By default the metrics listen on any free port and the audit
 * ledger records every request, as a node with the default config does.
 */
export async function startBenchNode(agent: Record<string, unknown>, modelPath: string | undefined, extra: Record<string, unknown> = {}): Promise<BenchNode> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "clawbot-bench-"));
  const secret = randomBytes(32).toString("base64url");
  const auth = { type: "jwt", secret };
  const config = configSchema.parse({
    agent: { data_dir: dataDir, ...agent },
    gateways: [
      { type: "websocket", host: "127.0.0.1", port: 0, auth },
      { type: "http", host: "127.0.0.1", port: 0, auth },
    ],
    shutdown_grace: 1,
    log_level: "silent",
    // Every benchmark client is the one subject "bench": the per-user fairness limits would cap the open-loop runs.
    limits: { max_requests_per_subject: 100_000, queue_share_per_subject: 1 },
    metrics: { port: 0 },
    ...extra,
  });
  const daemon = await createDaemon({ config, baseDir: dataDir, modelPath, logger: silentLogger });
  const port = (daemon.gateways[0] as unknown as { port: number }).port;
  const token = await issueToken({ secret, subject: "bench", roles: ["user"], ttl: "1h" });
  return {
    daemon,
    wsUrl: `ws://127.0.0.1:${port}/`,
    httpUrl: `http://127.0.0.1:${port}`,
    token,
    close: async () => {
      await daemon.close();
      fs.rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
