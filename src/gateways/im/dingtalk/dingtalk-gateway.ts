// The Dingtalk adapter: `{"type": "custom", "protocol": "dingtalk", …}` (docs/channels.md). SEAM: its helper implements it.
import type { CustomGatewayConfig } from "../../../config/schema.js";
import type { Gateway, GatewayContext } from "../../gateway.js";

/** Parses the entry's keys with the Dingtalk schema (errors name the key) and builds the gateway (not started). */
export function createDingtalkGateway(_config: CustomGatewayConfig, _context: GatewayContext): Gateway {
  throw new Error("the dingtalk adapter is not built yet");
}
