// Feishu's open API as the adapter uses it: tenant_access_token, reply to a message, update a card; errors as ImDeliveryError.
import crypto from "node:crypto";
import { ImDeliveryError } from "../im-channel.js";
import type { FetchedToken } from "../token-cache.js";

/** Codes that say the tenant_access_token is invalid or expired: fetch a new one and retry. */
const tokenCodes = new Set([99991661, 99991663, 99991668]);
/** Rate limited (per app, per chat: 5 QPS). */
const rateLimitCode = 99991400;
const requestTimeoutMs = 15_000;

export class FeishuApi {
  constructor(
    private readonly apiBase: string,
    private readonly appId: string,
    private readonly appSecret: string,
  ) {}

  /** A tenant_access_token for the TokenCache (it lives 2 h; Feishu returns a new one when less than 30 min remain). */
  async fetchToken(): Promise<FetchedToken> {
    const body = await this.call("POST", "/open-apis/auth/v3/tenant_access_token/internal", undefined, { app_id: this.appId, app_secret: this.appSecret });
    const token = body.tenant_access_token;
    const expire = body.expire;
    if (typeof token !== "string" || typeof expire !== "number") throw new ImDeliveryError("tenant_access_token answer without a token", true);
    return { token, expiresInSeconds: expire };
  }

  /** Replies to `messageId` (in its chat); returns the new message's id. `uuid` makes a retried reply land once. */
  async reply(token: string, messageId: string, message: { msgType: "interactive" | "text"; content: string }, uuid: string): Promise<string> {
    const body = await this.call("POST", `/open-apis/im/v1/messages/${encodeURIComponent(messageId)}/reply`, token, {
      msg_type: message.msgType,
      content: message.content,
      uuid: crypto.createHash("sha256").update(uuid).digest("hex").slice(0, 40),
    });
    const id = (body.data as { message_id?: unknown } | undefined)?.message_id;
    if (typeof id !== "string") throw new ImDeliveryError("reply answer without a message_id", false);
    return id;
  }

  /** Replaces a card's content (the card was sent with update_multi). */
  async updateCard(token: string, messageId: string, content: string): Promise<void> {
    await this.call("PATCH", `/open-apis/im/v1/messages/${encodeURIComponent(messageId)}`, token, { content });
  }

  private async call(method: string, path: string, token: string | undefined, payload: unknown): Promise<Record<string, unknown>> {
    let response: Response;
    try {
      response = await fetch(`${this.apiBase}${path}`, {
        method,
        headers: { "content-type": "application/json; charset=utf-8", ...(token ? { authorization: `Bearer ${token}` } : {}) },
        body: JSON.stringify(payload),
        signal: AbortSignal.timeout(requestTimeoutMs),
      });
    } catch (error) {
      throw new ImDeliveryError(`feishu ${path}: ${(error as Error).message}`, true);
    }
    let body: Record<string, unknown> = {};
    try {
      body = (await response.json()) as Record<string, unknown>;
    } catch {
      // A proxy's HTML error page: the status decides.
    }
    const code = typeof body.code === "number" ? body.code : response.ok ? 0 : -1;
    if (response.ok && code === 0) return body;
    const message = `feishu ${path}: HTTP ${response.status}, code ${code}${typeof body.msg === "string" ? ` (${body.msg.slice(0, 200)})` : ""}`;
    if (tokenCodes.has(code)) throw new ImDeliveryError(message, true, undefined, true);
    if (code === rateLimitCode || response.status === 429) {
      // The gateway says when the window resets, in seconds.
      const reset = Number(response.headers.get("x-ogw-ratelimit-reset"));
      throw new ImDeliveryError(message, true, Number.isFinite(reset) && reset > 0 ? reset * 1000 : undefined);
    }
    throw new ImDeliveryError(message, response.status >= 500 || response.status === 408);
  }
}

/** An interactive card holding the answer as markdown; update_multi lets later PATCHes change it for everyone. */
export function answerCard(text: string): string {
  return JSON.stringify({ config: { wide_screen_mode: true, update_multi: true }, elements: [{ tag: "markdown", content: text }] });
}
