// The keys of `{"type": "custom", "protocol": "wecom", …}`: the self-built app callback or the AI-bot long connection.
import { z } from "zod";
import type { CustomGatewayConfig } from "../../../config/schema.js";
import { parseOptions } from "../../registry.js";
import type { ListenerConfig } from "../../http-listeners.js";
import { imCommonKeys } from "../im-config.js";

const wecomSchema = z
  .strictObject({
    ...imCommonKeys,
    /** `callback`: WeCom POSTs to our URL (needs inbound HTTPS from WeCom); `aibot`: we dial WeCom's WebSocket (outbound only). */
    mode: z.enum(["callback", "aibot"]).default("callback"),
    corp_id: z.string().min(1).optional(),
    corp_secret: z.string().min(1).optional(),
    agent_id: z.union([z.number().int().nonnegative(), z.string().regex(/^\d+$/, "expected the app's numeric AgentId").transform(Number)]).optional(),
    token: z.string().regex(/^[A-Za-z0-9]{1,32}$/, "expected the callback Token (letters and digits, up to 32)").optional(),
    encoding_aes_key: z.string().regex(/^[A-Za-z0-9]{43}$/, "expected the 43-character EncodingAESKey").optional(),
    api_base: z.string().url().default("https://qyapi.weixin.qq.com"),
    /** The callback's own port; omitted: the route is mounted on the http gateway's port. */
    port: z.number().int().min(0).max(65535).optional(),
    host: z.string().default("127.0.0.1"),
    callback_path: z.string().regex(/^\/[^\s?#]*$/, "expected a path such as /wecom/callback").default("/wecom/callback"),
    message_type: z.enum(["markdown", "text"]).default("markdown"),
    /** Seconds a delivery's timestamp may be off from our clock before it is refused as stale (replay defence). */
    timestamp_tolerance: z.number().positive().default(300),
    bot_id: z.string().min(1).optional(),
    secret: z.string().min(1).optional(),
    ws_url: z.string().regex(/^wss?:\/\//, "expected a ws:// or wss:// URL").default("wss://openws.work.weixin.qq.com"),
    /** Seconds between heartbeats on the AI-bot connection; two missed acks reconnect. */
    ping_interval: z.number().positive().default(30),
  })
  .superRefine((config, context) => {
    const required =
      config.mode === "callback"
        ? (["corp_id", "corp_secret", "agent_id", "token", "encoding_aes_key"] as const)
        : (["bot_id", "secret"] as const);
    for (const key of required) {
      if (config[key] === undefined) context.addIssue({ code: "custom", path: [key], message: `required in mode "${config.mode}"` });
    }
  });

export type WecomConfig = z.output<typeof wecomSchema>;
export type WecomCallbackConfig = WecomConfig & { corp_id: string; corp_secret: string; agent_id: number; token: string; encoding_aes_key: string };
export type WecomAibotConfig = WecomConfig & { bot_id: string; secret: string };

/** Parses the entry (without type/protocol); errors name the key, e.g. `gateways[2].corp_id: required in mode "callback"`. */
export function parseWecomConfig(config: CustomGatewayConfig, where = "gateway"): WecomConfig {
  const { type: _type, protocol: _protocol, ...options } = config;
  return parseOptions(wecomSchema, options, where, "wecom");
}

/** The callback's own listener: the http gateway's defaults (connection limits, slowloris timeouts), no TLS (put a proxy in front). */
export function ownListener(config: WecomConfig): ListenerConfig {
  return {
    host: config.host,
    port: config.port ?? 0,
    max_connections: 20_000,
    max_connections_per_ip: 1_000,
    headers_timeout: 10,
    request_timeout: 30,
    keep_alive_timeout: 5,
  };
}
