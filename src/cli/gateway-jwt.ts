// The JWT auth blocks of a config's gateways, every type (custom adapters too), and tokens signed to fit them.
import type { ClawbotConfig, JwtAuthConfig } from "../config/schema.js";
import { authSchema } from "../config/schema.js";
import { resolveGatewayConfig } from "../gateways/registry.js";
import { issueToken, signingAlgorithms } from "../security/jwt-issuer.js";

/** The JWT auth of each gateway that uses one, in config order: websocket, http, mqtt and custom entries alike. */
export function jwtGatewayAuths(config: ClawbotConfig): JwtAuthConfig[] {
  const auths: JwtAuthConfig[] = [];
  config.gateways.forEach((entry, index) => {
    const gateway = resolveGatewayConfig(entry, `gateways[${index}]`);
    // A custom adapter's `auth` is checked by the same schema when the node starts.
    const auth = gateway.type === "custom" ? authSchema.safeParse(gateway.auth ?? { type: "none" }).data : gateway.auth;
    if (auth?.type === "jwt") auths.push(auth);
  });
  return auths;
}

/** When the gateway narrows `algorithms`, the first one the key can produce, so the token is accepted. */
export function configuredAlgorithm(auth: JwtAuthConfig | undefined, key: { secret?: string; privateKeyPem?: string }): string | undefined {
  if (!auth?.algorithms) return undefined;
  const fitting = signingAlgorithms(key);
  return auth.algorithms.find((algorithm) => fitting.includes(algorithm));
}

/** A token a gateway with this shared-secret auth accepts (its audience, issuer and algorithms applied). */
export function issueGatewayToken(auth: JwtAuthConfig & { secret: string }, claims: { subject: string; roles: string[]; ttl: string }): Promise<string> {
  return issueToken({
    secret: auth.secret,
    algorithm: configuredAlgorithm(auth, { secret: auth.secret }),
    subject: claims.subject,
    roles: claims.roles,
    ttl: claims.ttl,
    audience: auth.audience,
    issuer: auth.issuer,
  });
}
