// What `clawbot token issue` does: sign a JWT for a gateway, from its config, a secret or a private key.
import fs from "node:fs";
import { loadConfig } from "../config/load.js";
import type { JwtAuthConfig } from "../config/schema.js";
import { issueToken } from "../security/jwt-issuer.js";
import { weakSecretReason } from "../security/jwt-verifier.js";
import { configuredAlgorithm, jwtGatewayAuths } from "./gateway-jwt.js";

export interface IssueCommandOptions {
  config?: string;
  secret?: string;
  key?: string;
  sub: string;
  role?: string[];
  /** Scopes (`admin` opens the admin API and the operator console). */
  scope?: string[];
  ttl: string;
  aud?: string;
  iss?: string;
  alg?: string;
}

export async function issueFromOptions(options: IssueCommandOptions): Promise<string> {
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
    ...(options.scope && options.scope.length > 0 ? { scopes: options.scope } : {}),
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
