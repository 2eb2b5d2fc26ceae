// The token lines `clawbot start` prints when a gateway uses JWT: a token to try it with, or how to issue one.
import type { ClawbotConfig } from "../config/schema.js";
import { issueGatewayToken, jwtGatewayAuths } from "./gateway-jwt.js";

export interface TokenLineOptions {
  /** First run (no config): the token lasts 30 days, as the generated secret is the user's own; otherwise 1 hour. */
  firstRun: boolean;
  /** The file `clawbot token issue --config` reads for this node (the config, or the gateways file). */
  tokenConfigFile: string | undefined;
  /** The WebSocket URL, for the `Chat:` line. */
  websocketUrl: string | undefined;
  /** The web chat's URL, for the `Web:` line (the token in the fragment, which the browser never sends). */
  webUrl?: string | undefined;
}

/** Lines for the ready block; none when no gateway uses JWT auth. */
export async function tokenLines(config: ClawbotConfig, options: TokenLineOptions): Promise<string[]> {
  const [auth] = jwtGatewayAuths(config);
  if (auth === undefined) return [];
  const issue = options.tokenConfigFile !== undefined ? `npx clawbot token issue --config ${options.tokenConfigFile} --sub <name>` : undefined;
  if (auth.secret === undefined) {
    // Verified with a public key or JWKS: only the private key's holder can sign, so say how.
    return [`Tokens: ${issue ?? "npx clawbot token issue"} --key <private.pem> (the key that matches the gateway's ${auth.public_key !== undefined ? "public_key" : "jwks"})`];
  }
  const [ttl, label] = options.firstRun ? ["30d", "30 days"] : ["1h", "1 hour"];
  const token = await issueGatewayToken({ ...auth, secret: auth.secret }, { subject: "local", roles: ["user"], ttl });
  const lines = [`  token (${label}): ${token}`];
  if (options.websocketUrl !== undefined) lines.push(`Chat: npx clawbot chat --url ${options.websocketUrl} --token ${token}`);
  if (options.webUrl !== undefined) lines.push(`Web: ${options.webUrl}#token=${token}`);
  if (issue !== undefined) lines.push(`More tokens: ${issue} --ttl 1h`);
  return lines;
}
