// Resolves a gateway config entry to its adapter: built-in types, and custom protocols registered by name.
import type { CustomGatewayConfig, GatewayConfig } from "../config/schema.js";
import type { Gateway, GatewayContext } from "./gateway.js";
import { HttpGateway } from "./http/http-gateway.js";
import type { HttpListeners } from "./http-listeners.js";
import { WebsocketGateway } from "./websocket/websocket-gateway.js";

export type ProtocolFactory = (config: CustomGatewayConfig, context: GatewayContext) => Gateway | Promise<Gateway>;

const protocols = new Map<string, ProtocolFactory>();

/** Makes `{"type": "custom", "protocol": name}` resolve to this adapter. */
export function registerProtocol(name: string, factory: ProtocolFactory): void {
  if (protocols.has(name)) throw new Error(`Gateway protocol "${name}" is already registered`);
  protocols.set(name, factory);
}

export async function createGateway(config: GatewayConfig, context: GatewayContext, listeners: HttpListeners): Promise<Gateway> {
  switch (config.type) {
    case "websocket":
      return new WebsocketGateway(config, context, listeners);
    case "http":
      return new HttpGateway(config, context, listeners);
    case "mqtt":
      throw new Error("The MQTT gateway is not built yet");
    case "custom": {
      const factory = protocols.get(config.protocol);
      if (!factory) {
        const known = [...protocols.keys()];
        throw new Error(
          `Gateway protocol "${config.protocol}" is not available: no adapter registers it ` +
            `(registered: ${known.length > 0 ? known.join(", ") : "none"}). Remove the gateway or install its adapter.`,
        );
      }
      return factory(config, context);
    }
  }
}
