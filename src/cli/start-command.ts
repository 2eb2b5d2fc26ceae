// `clawbot start`: its options; what it does is in start-action.ts, loaded only when it runs.
import type { Command } from "commander";
import type { StartOptions } from "./start-action.js";

export function registerStartCommand(program: Command): void {
  program
    .command("start")
    .description("Start a node: load the model and serve the configured gateways (no config: first-run defaults on localhost)")
    .option("-c, --config <file>", "clawbot.yaml holding agent: and gateways: (default: ./clawbot.yaml when present)")
    .option("--agent <file>", "the agent YAML (top-level agent:)")
    .option("--gateways <file>", "the gateways JSON (top-level gateways:)")
    .option("-m, --model <name|path|url|hf-uri>", "model to load instead of agent.model_path: a name from `clawbot models list`, a file, or a URL / hf: URI (downloaded once)")
    .option("-p, --port <port>", "listen on this port instead of the configured ones (WebSocket and HTTP share it)")
    .option("--cluster <url>", "join the cluster on this NATS server (nats://host:4222): sets cluster.nats; the config's other cluster: keys still apply")
    .option("--metrics-port <port>", "serve the Prometheus metrics on this port instead of metrics.port (0: any free port)")
    .option("--insecure-dev", "accept weak JWT secrets (placeholder or under 32 bytes) with a warning")
    .option("--log-level <level>", "trace, debug, info, warn, error")
    .action(async (options: StartOptions) => {
      try {
        // Loaded here, not at the top: `clawbot --help` and the other commands need none of it.
        const { start } = await import("./start-action.js");
        await start(options);
      } catch (error) {
        const message = error instanceof Error && error.name === "ConfigError" ? error.message : `clawbot: ${(error as Error).message}`;
        process.stderr.write(`${message}\n`);
        process.exit(1);
      }
    });
}

