// The keys of a `{"type": "custom", "protocol": "feishu", …}` entry (docs/channels.md "Feishu"), parsed with names in errors.
import { z } from "zod";
import { ConfigError } from "../../../config/load.js";
import type { CustomGatewayConfig } from "../../../config/schema.js";
import { parseOptions } from "../../registry.js";
import { imCommonKeys } from "../im-config.js";

export const feishuConfigSchema = z.strictObject({
  ...imCommonKeys,
  /** `long_connection` (default: needs no inbound URL, only outbound HTTPS/WSS) or `webhook` (the platform POSTs events to us). */
  mode: z.enum(["long_connection", "webhook"]).default("long_connection"),
  /** The app's credentials (开发者后台 → 凭证与基础信息); the SDK's long connection wants the `cli_` + 16 hex form. */
  app_id: z.string().min(1),
  app_secret: z.string().min(1),
  /** 事件与回调 → 加密策略: checked against `header.token` when no encrypt_key is set. */
  verification_token: z.string().min(1).optional(),
  /** 事件与回调 → 加密策略: bodies are AES-256-CBC encrypted and signed (X-Lark-Signature) with it. */
  encrypt_key: z.string().min(1).optional(),
  /** The open platform's origin (Lark: https://open.larksuite.com; a private deployment or the simulator: its URL). */
  api_base: z
    .string()
    .regex(/^https?:\/\/[^/]+$/, "expected an origin such as https://open.feishu.cn (no path)")
    .default("https://open.feishu.cn"),
  /** Webhook mode: a listener of its own (omitted: the http gateway's port). */
  port: z.number().int().min(1).max(65535).optional(),
  host: z.string().default("127.0.0.1"),
  callback_path: z.string().startsWith("/").default("/feishu/events"),
  /** Seconds a signed delivery's X-Lark-Request-Timestamp may be away from our clock. */
  max_clock_skew: z.number().positive().default(300),
  /** Which sender id maps through `users`: open_id (per app, always present) or user_id (tenant-wide, needs a permission). */
  user_id_type: z.enum(["open_id", "user_id", "union_id"]).default("open_id"),
  /** The bot's open_id: in groups only a mention of it counts; without it, any @-mention in the message counts. */
  bot_open_id: z.string().min(1).optional(),
  /** `card`: an interactive card with a markdown element (updated while the answer streams); `text`: plain text messages. */
  reply_as: z.enum(["card", "text"]).default("card"),
  /** Seconds between card updates while the answer streams (Feishu allows 5 QPS per chat); 0: one final answer. */
  stream_interval: z.number().min(0).default(1),
});

export type FeishuConfig = z.infer<typeof feishuConfigSchema>;

/** Parses the entry (`where` names it in errors, e.g. "gateways[2]"); a webhook needs a way to check deliveries. */
export function parseFeishuConfig(config: CustomGatewayConfig, where = "gateway"): FeishuConfig {
  const { type: _type, protocol: _protocol, ...options } = config;
  const parsed = parseOptions(feishuConfigSchema, options, where, "feishu");
  if (parsed.mode === "webhook" && !parsed.encrypt_key && !parsed.verification_token) {
    throw new ConfigError(`${where}: a feishu webhook needs encrypt_key or verification_token, to tell the platform's deliveries from forged ones`);
  }
  // The SDK's WSClient silently refuses to start with any other form.
  if (parsed.mode === "long_connection" && !/^cli_[0-9a-fA-F]{16}$/.test(parsed.app_id)) {
    throw new ConfigError(`${where}.app_id: the long connection needs the app's id as the console shows it (cli_ and 16 hex digits)`);
  }
  return parsed;
}
