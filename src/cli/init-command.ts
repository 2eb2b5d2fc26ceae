// `clawbot init`: writes a starter clawbot.yaml with a random 32-byte JWT secret and says what to do next.
import { randomBytes } from "node:crypto";
import fs from "node:fs";
import type { Command } from "commander";

export function starterConfig(secret: string): string {
  return `# Clawbot configuration. Reference: docs/configuration.md
agent:
  # A GGUF file (relative to this file), a name from \`clawbot models list\`, an https URL
  # or an hf:owner/repo/file.gguf URI (downloaded once).
  # Leave it out to use the default small instruct model.
  # model_path: ./models/qwen2.5-0.5b-instruct-q4_k_m.gguf
  max_tokens: 512
  temperature: 0.7
  system_prompt: "You are a helpful assistant."
  parallel: 4          # concurrent sequences decoded in one batch
  max_queue: 64        # waiting requests before new ones get "overloaded"
  data_dir: ./data     # sessions and the audit ledger (SQLite)

gateways:
  - type: websocket
    port: 8080
    auth:
      type: jwt
      secret: "${secret}"
  - type: http         # OpenAI-compatible API on the same port
    port: 8080
    auth:
      type: jwt
      secret: "${secret}"

# Prometheus metrics on their own loopback listener (docs/metrics.md). Prometheus itself
# listens on 9090 by default: on one host, move one of them.
metrics:
  port: 9090

# Every answer is recorded in a tamper-evident ledger before it is sent (docs/audit.md).
# Check it with: npx clawbot audit verify --config clawbot.yaml
audit:
  content: redacted    # full | redacted (texts after the plugins ran) | hash (SM3 digests only)
  sinks: []            # e.g. - {type: syslog, url: "tcp://logs.example:514", app_name: clawbot}
`;
}

export function registerInitCommand(program: Command): void {
  program
    .command("init")
    .description("Write a starter clawbot.yaml with a random JWT secret")
    .option("-o, --output <file>", "where to write it", "clawbot.yaml")
    .option("-f, --force", "overwrite an existing file")
    .action((options: { output: string; force?: boolean }) => {
      if (fs.existsSync(options.output) && !options.force) {
        process.stderr.write(`${options.output} already exists; pass --force to overwrite it\n`);
        process.exit(1);
      }
      try {
        fs.writeFileSync(options.output, starterConfig(randomBytes(32).toString("base64url")), { mode: 0o600 });
        // `mode` applies only when the file is created; an overwritten (--force) file keeps its old, maybe readable, mode.
        fs.chmodSync(options.output, 0o600);
      } catch (error) {
        process.stderr.write(`cannot write ${options.output}: ${(error as Error).message}\n`);
        process.exit(1);
      }
      process.stdout.write(
        `Wrote ${options.output} (with a random 32-byte JWT secret; keep the file private).\n` +
          `Next:\n` +
          `  npx clawbot start --config ${options.output}\n` +
          `  npx clawbot token issue --config ${options.output} --sub alice --role user --ttl 1h\n` +
          `  npx clawbot chat --url ws://127.0.0.1:8080 --token <token>\n`,
      );
    });
}
