// `clawbot token issue`: its options; signing is in token-issue.ts, loaded only when it runs.
import type { Command } from "commander";
import type { IssueCommandOptions } from "./token-issue.js";

export function registerTokenCommand(program: Command): void {
  const token = program.command("token").description("Work with gateway access tokens (JWT).");
  token
    .command("issue")
    .description("Print a signed JWT on stdout, e.g. TOKEN=$(clawbot token issue --config clawbot.yaml --sub alice).")
    .option("--config <file>", "take the secret, audience and issuer from the first gateway with jwt auth in this config (any type, custom adapters too)")
    .option("--secret <secret>", "HMAC shared secret to sign with")
    .option("--key <private.pem>", "PEM private key to sign with (RSA, EC, Ed25519, or SM2 for SM2-SM3)")
    .requiredOption("--sub <subject>", "subject (sub claim)")
    .option("--role <role>", "role claim; repeat for several (default: user)", (value: string, previous: string[] | undefined) => [...(previous ?? []), value])
    .option("--scope <scope>", "scope claim (admin: the admin API and the operator console); repeat for several", (value: string, previous: string[] | undefined) => [...(previous ?? []), value])
    .option("--ttl <ttl>", "lifetime such as 30m, 1h, 7d, 3600s", "1h")
    .option("--aud <audience>", "audience (aud claim)")
    .option("--iss <issuer>", "issuer (iss claim)")
    .option("--alg <algorithm>", "signing algorithm; by default the first one that fits the key")
    .action(async (options: IssueCommandOptions, command: Command) => {
      try {
        // Loaded here, not at the top: `clawbot --help` and the other commands need none of it.
        const { issueFromOptions } = await import("./token-issue.js");
        const signed = await issueFromOptions(options);
        process.stdout.write(`${signed}\n`);
      } catch (error) {
        const message = error instanceof Error ? error.message : String(error);
        command.error(`error: ${message}`, { exitCode: 1, code: "clawbot.token" });
      }
    });
}

