// Resolves a gateway config entry to its adapter: built-in types, and custom protocols registered by name.
import type { z } from "zod";
import { ConfigError, formatPath } from "../config/load.js";
import { mqttOptionsSchema, type CustomGatewayConfig, type GatewayConfig } from "../config/schema.js";
import type { Gateway, GatewayContext } from "./gateway.js";
import { adapterOptions, loadGatewayAdapter } from "./custom-adapter.js";
import type { HttpListeners } from "./http-listeners.js";

/** `where` names the entry in configuration errors, e.g. "gateways[2]". */
export type ProtocolFactory = (config: CustomGatewayConfig, context: GatewayContext, where?: string) => Gateway | Promise<Gateway>;

const protocols = new Map<string, ProtocolFactory>();

/**
 * Custom protocol names that Clawbot registers for its own adapters: `{"type": "custom", "protocol": name, …}`
 * is that built-in gateway, its other keys parsed (and defaulted) by the built-in's schema.
 */
const builtinProtocols = new Map<string, (options: Record<string, unknown>, where: string) => GatewayConfig>([
  ["enterprise_mqtt", (options, where) => ({ type: "mqtt", ...parseOptions(mqttOptionsSchema, options, where, "enterprise_mqtt") })],
]);

/** The work-IM adapters (docs/channels.md): built in, each module loaded only when a config names its protocol. */
const imProtocols = new Map<string, () => Promise<ProtocolFactory>>([
  ["wecom", async () => (await import("./im/wecom/wecom-gateway.js")).createWecomGateway],
  ["dingtalk", async () => (await import("./im/dingtalk/dingtalk-gateway.js")).createDingtalkGateway],
  ["feishu", async () => (await import("./im/feishu/feishu-gateway.js")).createFeishuGateway],
]);

/** Each work-IM adapter's config parser (loaded on demand), for checking an entry without building its gateway. */
const imConfigParsers = new Map<string, () => Promise<(config: CustomGatewayConfig, where: string) => unknown>>([
  ["wecom", async () => (await import("./im/wecom/wecom-config.js")).parseWecomConfig],
  ["dingtalk", async () => (await import("./im/dingtalk/dingtalk-config.js")).parseDingtalkConfig],
  ["feishu", async () => (await import("./im/feishu/feishu-config.js")).parseFeishuConfig],
]);

/**
 * Checks the keys of an entry naming a built-in work-IM protocol as the node would at start (throws a ConfigError
 * naming the key); false for any other protocol.
 */
export async function checkBuiltinProtocolOptions(config: CustomGatewayConfig, where: string): Promise<boolean> {
  const parser = imConfigParsers.get(config.protocol);
  if (!parser) return false;
  (await parser())(config, where);
  return true;
}

/** Makes `{"type": "custom", "protocol": name}` resolve to this adapter. */
export function registerProtocol(name: string, factory: ProtocolFactory): void {
  if (protocols.has(name) || builtinProtocols.has(name) || imProtocols.has(name)) throw new Error(`Gateway protocol "${name}" is already registered`);
  protocols.set(name, factory);
}

/**
 * Turns a custom entry naming a built-in protocol (enterprise_mqtt) into that built-in's config; other entries
 * come back unchanged. `where` names the entry in errors, e.g. "gateways[1]".
 */
export function resolveGatewayConfig(config: GatewayConfig, where: string): GatewayConfig {
  if (config.type !== "custom") return config;
  const builtin = builtinProtocols.get(config.protocol);
  if (!builtin) return config;
  const { type: _type, protocol: _protocol, ...options } = config;
  return builtin(options, where);
}

/**
 * `where` names the entry in errors, e.g. "gateways[1]". Each gateway's module is imported when a config uses it, so
 * commands that only read configs (`clawbot token`, `--help`) and nodes without MQTT never load ws, fastify or mqtt.
 */
export async function createGateway(config: GatewayConfig, context: GatewayContext, listeners: HttpListeners, where = "gateway"): Promise<Gateway> {
  switch (config.type) {
    case "websocket": {
      const { WebsocketGateway } = await import("./websocket/websocket-gateway.js");
      return new WebsocketGateway(config, context, listeners);
    }
    case "http": {
      const { HttpGateway } = await import("./http/http-gateway.js");
      return new HttpGateway(config, context, listeners);
    }
    case "mqtt": {
      const { MqttGateway } = await import("./mqtt/mqtt-gateway.js");
      return new MqttGateway(config, context);
    }
    case "custom": {
      const resolved = resolveGatewayConfig(config, where);
      if (resolved.type !== "custom") return createGateway(resolved, context, listeners, where);
      if (typeof config.path === "string") {
        // A user's adapter file: {"type": "custom", "protocol": NAME, "path": "./adapter.ts", …its options}.
        const adapter = await loadGatewayAdapter(config.path, context.baseDir, config.protocol);
        return adapter.create(adapterOptions(adapter, config, where), context);
      }
      const im = imProtocols.get(config.protocol);
      const factory = im ? await im() : protocols.get(config.protocol);
      if (!factory) {
        const known = [...builtinProtocols.keys(), ...imProtocols.keys(), ...protocols.keys()];
        throw new Error(
          `Gateway protocol "${config.protocol}" is not available: no adapter registers it ` +
            `(registered: ${known.length > 0 ? known.join(", ") : "none"}). Remove the gateway or install its adapter.`,
        );
      }
      return factory(config, context, where);
    }
  }
}

/** Parses an adapter's keys; every problem names its key path, like the config loader's messages. */
export function parseOptions<Schema extends z.ZodTypeAny>(schema: Schema, options: Record<string, unknown>, where: string, protocol: string): z.output<Schema> {
  const result = schema.safeParse(options);
  if (result.success) return result.data;
  const lines = result.error.issues.map((issue) => {
    const at = `${where}${issue.path.length > 0 ? `.${formatPath(issue.path)}` : ""}`;
    if (issue.code === "unrecognized_keys") return `${at}: unknown key${issue.keys.length > 1 ? "s" : ""} ${issue.keys.map((key) => `"${key}"`).join(", ")} (protocol ${protocol})`;
    if (issue.code === "invalid_type") return `${at}: expected ${issue.expected}, got ${issue.received} (protocol ${protocol})`;
    if (issue.code === "invalid_union") {
      const literals = issue.unionErrors.flatMap((error) => error.issues).flatMap((inner) => (inner.code === "invalid_literal" ? [JSON.stringify(inner.expected)] : []));
      if (literals.length > 0) return `${at}: expected one of ${literals.join(", ")} (protocol ${protocol})`;
    }
    return `${at}: ${issue.message} (protocol ${protocol})`;
  });
  throw new ConfigError(lines.join("\n"));
}
