// `clawbot token issue`: prints a signed JWT for a gateway, from its config, a secret or a private key.
import fs from "node:fs";
import type { Command } from "commander";
import { ConfigError, loadConfig } from "../config/load.js";
import type { JwtAuthConfig } from "../config/schema.js";
import { issueToken } from "../security/jwt-issuer.js";
import { weakSecretReason } from "../security/jwt-verifier.js";
import { configuredAlgorithm, jwtGatewayAuths } from "./gateway-jwt.js";

interface IssueCommandOptions {
  config?: string;
  secret?: string;
  key?: string;
  sub: string;
  role?: string[];
  ttl: string;
  aud?: string;
  iss?: string;
  alg?: string;
}

export function registerTokenCommand(program: Command): void {
  const token = program.command("token").description("Work with gateway access tokens (JWT).");
  token
    .command("issue")
    .description("Print a signed JWT on stdout, e.g. TOKEN=$(clawbot token issue --config clawbot.yaml --sub alice).")
    .option("--config <file>", "take the secret, audience and issuer from the first gateway with jwt auth in this config (any type, custom adapters too)")
    .option("--secret <secret>", "HMAC shared secret to sign with")
    .option("--key <private.pem>", "PEM private key to sign with (RSA, EC or Ed25519)")
    .requiredOption("--sub <subject>", "subject (sub claim)")
    .option("--role <role>", "role claim; repeat for several (default: user)", (value: string, previous: string[] | undefined) => [...(previous ?? []), value])
    .option("--ttl <ttl>", "lifetime such as 30m, 1h, 7d, 3600s", "1h")
    .option("--aud <audience>", "audience (aud claim)")
    .option("--iss <issuer>", "issuer (iss claim)")
    .option("--alg <algorithm>", "signing algorithm; by default the first one that fits the key")
    .action(async (options: IssueCommandOptions, command: Command) => {
      try {
        const signed = await issueFromOptions(options);
        process.stdout.write(`${signed}\n`);
      } catch (error) {
        const message = error instanceof ConfigError || error instanceof Error ? error.message : String(error);
        command.error(`error: ${message}`, { exitCode: 1, code: "clawbot.token" });
      }
    });
}

async function issueFromOptions(options: IssueCommandOptions): Promise<string> {
  if (options.secret !== undefined && options.key !== undefined) throw new Error("give either --secret or --key, not both");
  const auth = options.config ? jwtAuthFromConfig(options.config) : undefined;
  let secret = options.secret;
  let privateKeyPem: string | undefined;
  if (options.key !== undefined) {
    privateKeyPem = readPrivateKey(options.key);
  } else if (secret === undefined && auth) {
    if (auth.secret === undefined) {
      const source = auth.public_key !== undefined ? `public_key ${auth.public_key}` : `jwks ${auth.jwks}`;
      throw new Error(`the jwt gateway in ${options.config} verifies with ${source}; pass --key <private.pem> with the matching private key`);
    }
    secret = auth.secret;
  }
  if (secret === undefined && privateKeyPem === undefined) throw new Error("give --config <file>, --secret <secret> or --key <private.pem>");
  if (secret !== undefined) {
    const weakness = weakSecretReason(secret);
    if (weakness) process.stderr.write(`warning: the secret ${weakness}; gateways refuse to start with it\n`);
  }
  return issueToken({
    secret,
    privateKeyPem,
    algorithm: options.alg ?? configuredAlgorithm(auth, { secret, privateKeyPem }),
    subject: options.sub,
    roles: options.role && options.role.length > 0 ? options.role : ["user"],
    ttl: options.ttl,
    audience: options.aud ?? auth?.audience,
    issuer: options.iss ?? auth?.issuer,
  });
}

/** The auth block of the first gateway (of any type) that uses jwt. */
function jwtAuthFromConfig(configPath: string): JwtAuthConfig {
  const { config } = loadConfig({ configPath });
  const [first] = jwtGatewayAuths(config);
  if (first === undefined) throw new Error(`no gateway in ${configPath} uses auth type jwt`);
  return first;
}

function readPrivateKey(file: string): string {
  try {
    return fs.readFileSync(file, "utf8");
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code === "ENOENT" ? "file not found" : (error as Error).message;
    throw new Error(`cannot read --key ${file} (${reason})`);
  }
}
