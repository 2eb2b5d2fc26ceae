// Refuses configurations that expose an assistant carelessly: unauthenticated non-loopback binds and weak JWT secrets.
import net from "node:net";
import type { ClawbotConfig } from "../config/schema.js";
import type { Logger } from "../logging/logger.js";
import { weakSecretReason } from "../security/jwt-verifier.js";

export function isLoopback(host: string): boolean {
  if (host === "localhost") return true;
  if (net.isIPv4(host)) return host.startsWith("127.");
  return host === "::1";
}

export function checkExposure(config: ClawbotConfig, options: { insecureDev: boolean; logger: Logger }): void {
  config.gateways.forEach((gateway, index) => {
    if (gateway.type === "custom") return;
    const where = gateway.type === "mqtt" ? `gateways[${index}] (mqtt ${gateway.broker})` : `gateways[${index}] (${gateway.type} on ${gateway.host}:${gateway.port})`;
    if (gateway.type === "mqtt" && gateway.auth.type === "none" && !isLoopback(brokerHost(gateway.broker))) {
      options.logger.warn(`${where}: auth disabled: anyone who may publish to the broker's request topics can use the model; restrict them with broker ACLs or configure auth (type: jwt)`);
    }
    if (gateway.type !== "mqtt" && gateway.auth.type === "none" && !isLoopback(gateway.host)) {
      throw new Error(`${where}: binding to ${gateway.host} with auth disabled is refused; configure auth (type: jwt) or bind to 127.0.0.1`);
    }
    if (gateway.auth.type === "jwt" && gateway.auth.secret !== undefined) {
      const reason = weakSecretReason(gateway.auth.secret);
      if (!reason) return;
      if (!options.insecureDev) {
        throw new Error(`${where}: auth.secret ${reason}; use a random secret of at least 32 bytes (clawbot init makes one) or pass --insecure-dev`);
      }
      options.logger.warn(`INSECURE: ${where}: auth.secret ${reason}. Anyone who guesses it can mint tokens. Never run like this in production.`);
    }
  });
}

function brokerHost(url: string): string {
  try {
    return new URL(url).hostname.replace(/^\[|\]$/g, "");
  } catch {
    return url;
  }
}
