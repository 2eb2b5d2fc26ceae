// The Wecom adapter: `{"type": "custom", "protocol": "wecom", …}` (docs/channels.md). SEAM: its helper implements it.
import type { CustomGatewayConfig } from "../../../config/schema.js";
import type { Gateway, GatewayContext } from "../../gateway.js";

/** Parses the entry's keys with the Wecom schema (errors name the key) and builds the gateway (not started). */
export function createWecomGateway(_config: CustomGatewayConfig, _context: GatewayContext): Gateway {
  throw new Error("the wecom adapter is not built yet");
}
