// The DingTalk adapter's keys (`{"type": "custom", "protocol": "dingtalk", …}`), parsed with zod; errors name the key.
import { z } from "zod";
import { listenerTlsSchema } from "../../../config/gateway-schema.js";
import type { CustomGatewayConfig } from "../../../config/schema.js";
import { parseOptions } from "../../registry.js";
import { imCommonKeys } from "../im-config.js";

export const dingtalkConfigSchema = z.strictObject({
  ...imCommonKeys,
  /** `stream`: an outbound WebSocket (no inbound internet needed); `callback`: the robot's HTTP callback (a public URL). */
  mode: z.enum(["stream", "callback"]).default("stream"),
  /** The app's AppKey (Client ID) and AppSecret (Client Secret). */
  client_id: z.string().min(1),
  client_secret: z.string().min(1),
  /** The robot's code for the OpenAPI sends; the AppKey when absent (the usual case for an app's own robot). */
  robot_code: z.string().min(1).optional(),
  /** The OpenAPI base (tickets, tokens, sends): a private deployment's or a simulator's. */
  api_base: z.string().url().regex(/^https?:\/\//, "expected an http(s) URL").default("https://api.dingtalk.com"),
  /** Longest wait between Stream reconnect attempts, in seconds (the delay doubles from about 1 s, with jitter). */
  reconnect_max_delay: z.number().positive().default(30),
  /** Callback mode: its own port (omitted: the http gateway's port), host, TLS and path. */
  port: z.number().int().min(0).max(65535).optional(),
  host: z.string().default("127.0.0.1"),
  tls: listenerTlsSchema.optional(),
  callback_path: z.string().startsWith("/").default("/dingtalk/callback"),
  /**
   * Callback mode: seconds a delivery's `timestamp` may differ from our clock. DingTalk allows 1 h; the `sign` covers
   * only the timestamp, not the body, so a captured header pair can carry any body until it goes stale: 5 min by default.
   */
  max_clock_skew: z.number().positive().max(3600).default(300),
  /** Callback mode: largest body in bytes (a robot message is a few KiB). */
  max_body: z.number().int().positive().default(256 * 1024),
});

export type DingtalkConfig = z.output<typeof dingtalkConfigSchema>;

/** The entry's own keys (without type/protocol) checked against the schema; a problem names its key. */
export function parseDingtalkConfig(config: CustomGatewayConfig, where = "gateway"): DingtalkConfig {
  const { type: _type, protocol: _protocol, ...options } = config;
  return parseOptions(dingtalkConfigSchema, options, where, "dingtalk");
}
