// The keys every work-IM adapter (WeCom, DingTalk, Feishu) shares: identity mapping, group behaviour, delivery limits, API/WS base URLs.
import { z } from "zod";
import { gatewayAgentKeys } from "../../config/gateway-schema.js";

/** One platform user mapped to a Clawbot subject and roles (`users: {<platform user id>: {subject?, roles}}`). */
export const imUserSchema = z.strictObject({
  /** The subject permissions and the audit ledger see; `<platform>:<user id>` when absent. */
  subject: z.string().min(1).max(256).optional(),
  roles: z.array(z.string().min(1)).default([]),
});

export const imCommonKeys = {
  ...gatewayAgentKeys,
  /** Platform user id → subject and roles. */
  users: z.record(z.string().min(1), imUserSchema).default({}),
  /** Roles of a platform user not listed in `users` (when `unknown_users: allow`). */
  default_roles: z.array(z.string().min(1)).default(["user"]),
  /** `allow`: anyone the platform delivers (with default_roles); `refuse`: only listed users get answers (others a refusal text). */
  unknown_users: z.enum(["allow", "refuse"]).default("allow"),
  /** In group chats: answer only when the bot is @-mentioned (`mention`), or every message (`all`). */
  group_reply: z.enum(["mention", "all"]).default("mention"),
  /** Messages per minute the adapter sends to one user, and to one group (the platform's limits; a queue waits, never drops). */
  user_rate_per_minute: z.number().int().positive().optional(),
  group_rate_per_minute: z.number().int().positive().optional(),
  /** Seconds a platform API error is retried with backoff before the answer is given up (and counted). */
  delivery_timeout: z.number().positive().default(300),
  /** Seconds an answer may take before it is cancelled (the user gets the error text). */
  answer_timeout: z.number().positive().default(300),
};

export type ImUserConfig = z.infer<typeof imUserSchema>;

/** The shared keys after parsing (each platform's schema spreads imCommonKeys and adds its own). */
export interface ImCommonConfig {
  agent?: string;
  users: Record<string, ImUserConfig>;
  default_roles: string[];
  unknown_users: "allow" | "refuse";
  group_reply: "mention" | "all";
  user_rate_per_minute?: number;
  group_rate_per_minute?: number;
  delivery_timeout: number;
  answer_timeout: number;
}
