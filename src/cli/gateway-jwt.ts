// The JWT auth blocks of a config's gateways, every type (custom adapters too), and tokens signed to fit them.
import type { ClawbotConfig, JwtAuthConfig } from "../config/schema.js";
import { authSchema } from "../config/schema.js";
import { resolveGatewayConfig } from "../gateways/registry.js";

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

// Signing to fit a gateway lives in src/security (the http gateway's password login signs too); re-exported for the CLI.
export { configuredAlgorithm, issueGatewayToken } from "../security/jwt-issuer.js";
