// The Feishu adapter: `{"type": "custom", "protocol": "feishu", …}` (docs/channels.md). SEAM: its helper implements it.
import type { CustomGatewayConfig } from "../../../config/schema.js";
import type { Gateway, GatewayContext } from "../../gateway.js";

/** Parses the entry's keys with the Feishu schema (errors name the key) and builds the gateway (not started). */
export function createFeishuGateway(_config: CustomGatewayConfig, _context: GatewayContext): Gateway {
  throw new Error("the feishu adapter is not built yet");
}
