// The registry: enterprise_mqtt is the built-in MQTT adapter under a custom protocol name, parsed by its schema.
import { describe, expect, it } from "vitest";
import { configSchema, type GatewayConfig } from "../config/schema.js";
import { registerProtocol, resolveGatewayConfig } from "./registry.js";

const seedEntry = (extra: Record<string, unknown> = {}): GatewayConfig =>
  configSchema.parse({ gateways: [{ type: "custom", protocol: "enterprise_mqtt", broker: "tcp://broker.example:1883", qos: 1, ...extra }] }).gateways[0] as GatewayConfig;

describe("resolveGatewayConfig", () => {
  it("turns the seed's enterprise_mqtt entry into an mqtt gateway with defaults", () => {
    expect(resolveGatewayConfig(seedEntry(), "gateways[1]")).toMatchObject({
      type: "mqtt",
      broker: "tcp://broker.example:1883",
      qos: 1,
      protocol_version: 5,
      topic_prefix: "clawbot",
      session_expiry: 86_400,
      auth: { type: "none" },
    });
  });

  it("names the key path of a bad or unknown key", () => {
    expect(() => resolveGatewayConfig(seedEntry({ qos: 3 }), "gateways[1]")).toThrow(/gateways\[1\]\.qos: expected one of 0, 1, 2 \(protocol enterprise_mqtt\)/);
    expect(() => resolveGatewayConfig(seedEntry({ brokr: "x" }), "gateways[1]")).toThrow(/gateways\[1\]: unknown key "brokr"/);
    expect(() => resolveGatewayConfig(seedEntry({ auth: { type: "jwt", secrett: "x" } }), "gateways[0]")).toThrow(/gateways\[0\]\.auth: unknown key "secrett"/);
    expect(() => resolveGatewayConfig(seedEntry({ broker: "http://x" }), "gateways[0]")).toThrow(/gateways\[0\]\.broker: expected a broker URL/);
  });

  it("leaves other entries alone and keeps the name taken", () => {
    const websocket = configSchema.parse({ gateways: [{ type: "websocket" }] }).gateways[0] as GatewayConfig;
    expect(resolveGatewayConfig(websocket, "gateways[0]")).toBe(websocket);
    expect(() => registerProtocol("enterprise_mqtt", () => ({ name: "x", start: async () => {}, stop: async () => {}, status: () => ({ type: "x", name: "x", state: "listening", healthy: true, connections: 0 }) }))).toThrow(/already registered/);
  });
});
