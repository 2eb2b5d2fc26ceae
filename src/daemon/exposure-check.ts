// Refuses configurations that expose an assistant carelessly: unauthenticated non-loopback binds (TLS is not auth) and weak JWT secrets.
import type { ClawbotConfig } from "../config/schema.js";
import { isLoopback } from "../gateways/loopback-host.js";
import type { Logger } from "../logging/logger.js";
import { weakSecretReason } from "../security/jwt-verifier.js";

export { isLoopback };

/**
 * Checks the built-in gateways. A custom gateway from an adapter file is checked by the same rule when its adapter
 * loads (`checkAdapterExposure` in gateways/custom-adapter.ts: the adapter declares its host and whether it
 * authenticates); here only its auth secret is checked.
 */
export function checkExposure(config: ClawbotConfig, options: { insecureDev: boolean; logger: Logger }): void {
  config.gateways.forEach((gateway, index) => {
    if (gateway.type === "custom") return checkSecret(gateway.auth, `gateways[${index}] (${gateway.protocol})`, options);
    const where = gateway.type === "mqtt" ? `gateways[${index}] (mqtt ${gateway.broker})` : `gateways[${index}] (${gateway.type} on ${gateway.host}:${gateway.port})`;
    if (gateway.type === "mqtt" && gateway.auth.type === "none" && !isLoopback(brokerHost(gateway.broker))) {
      options.logger.warn(`${where}: auth disabled: anyone who may publish to the broker's request topics can use the model; restrict them with broker ACLs or configure auth (type: jwt)`);
    }
    // TLS encrypts the link but does not say who the client is: only required client certificates (mTLS) authenticate.
    if (gateway.type !== "mqtt" && gateway.auth.type === "none" && !isLoopback(gateway.host) && gateway.tls?.client_certificates !== "require") {
      const tlsNote = gateway.tls ? " (tls alone does not authenticate clients; tls.client_certificates: require does)" : "";
      throw new Error(`${where}: binding to ${gateway.host} with auth disabled is refused${tlsNote}; configure auth (type: jwt) or bind to 127.0.0.1`);
    }
    if (gateway.type !== "mqtt" && gateway.auth.type === "jwt" && !gateway.tls && !isLoopback(gateway.host)) {
      options.logger.warn(`${where}: bearer tokens travel in clear text on ${gateway.host}; configure tls (or terminate TLS in a proxy in front of it)`);
    }
    checkSecret(gateway.auth, where, options);
  });
}

function checkSecret(auth: unknown, where: string, options: { insecureDev: boolean; logger: Logger }): void {
  const secret = typeof auth === "object" && auth !== null && (auth as { type?: unknown }).type === "jwt" ? (auth as { secret?: unknown }).secret : undefined;
  if (typeof secret !== "string") return;
  const reason = weakSecretReason(secret);
  if (!reason) return;
  if (!options.insecureDev) {
    throw new Error(`${where}: auth.secret ${reason}; use a random secret of at least 32 bytes (clawbot init makes one) or pass --insecure-dev`);
  }
  options.logger.warn(`INSECURE: ${where}: auth.secret ${reason}. Anyone who guesses it can mint tokens. Never run like this in production.`);
}

function brokerHost(url: string): string {
  try {
    return new URL(url).hostname.replace(/^\[|\]$/g, "");
  } catch {
    return url;
  }
}
