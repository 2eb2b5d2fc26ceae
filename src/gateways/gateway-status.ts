// A gateway's status() for /readyz and the metrics, guarded: an adapter written without status(), or one whose status() throws.
import type { Gateway, GatewayStatus } from "./gateway.js";

/**
 * `gateway.status()`, or what can be said without it: an adapter from before `status()` existed counts as healthy
 * (state "unknown": it cannot say otherwise), one whose `status()` throws as unhealthy (state "error").
 */
export function gatewayStatusOf(gateway: Gateway, type: string): GatewayStatus {
  const name = safeName(gateway, type);
  if (typeof (gateway as Partial<Gateway>).status !== "function") return { type, name, state: "unknown", healthy: true, connections: 0 };
  try {
    return gateway.status();
  } catch {
    return { type, name, state: "error", healthy: false, connections: 0 };
  }
}

function safeName(gateway: Gateway, type: string): string {
  try {
    return typeof gateway.name === "string" ? gateway.name : type;
  } catch {
    return type;
  }
}
