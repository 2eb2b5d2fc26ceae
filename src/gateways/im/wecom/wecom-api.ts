// The self-built app's outbound API: gettoken (cached by TokenCache) and message/send, with WeCom's errcodes mapped to retry decisions.
import type { Logger } from "../../../logging/logger.js";
import { ImDeliveryError } from "../im-channel.js";
import { TokenCache } from "../token-cache.js";

/** errcodes that mean the access token is no longer good (invalid, expired, not a token): fetch a new one and retry. */
const tokenErrors = new Set([40001, 40014, 42001]);
/** Rate limits (45009 API frequency, 45033 concurrent calls) and "system busy" (-1): retry after a while. */
const busyErrors = new Set([-1, 45009, 45033]);
const ipNotAllowed = 60020;

export interface WecomApiOptions {
  apiBase: string;
  corpId: string;
  corpSecret: string;
  agentId: number;
  logger: Logger;
  /** Each call's timeout in milliseconds. */
  timeoutMs?: number;
}

export class WecomApi {
  readonly tokens: TokenCache;
  private readonly base: string;

  constructor(private readonly options: WecomApiOptions) {
    this.base = options.apiBase.replace(/\/+$/, "");
    this.tokens = new TokenCache(async () => {
      const query = new URLSearchParams({ corpid: options.corpId, corpsecret: options.corpSecret });
      const answer = await this.call(`${this.base}/cgi-bin/gettoken?${query}`, { method: "GET" });
      if (typeof answer.access_token !== "string" || answer.access_token === "") throw new ImDeliveryError("gettoken returned no access_token", true);
      const expiresIn = typeof answer.expires_in === "number" && answer.expires_in > 0 ? answer.expires_in : 7200;
      return { token: answer.access_token, expiresInSeconds: expiresIn };
    });
  }

  /** Sends `content` to one member (`touser`) as markdown or text (each at most 2048 bytes: the channel splits). */
  async send(toUser: string, content: string, messageType: "markdown" | "text"): Promise<void> {
    const token = await this.tokens.get();
    const body = { touser: toUser, agentid: this.options.agentId, msgtype: messageType, [messageType]: { content }, safe: 0 };
    await this.call(`${this.base}/cgi-bin/message/send?access_token=${encodeURIComponent(token)}`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(body),
    });
  }

  /** One API call: network failures and 5xx are retryable; a non-zero errcode is mapped (token, busy, IP, other). */
  private async call(url: string, init: RequestInit): Promise<Record<string, unknown>> {
    let response: Response;
    try {
      response = await fetch(url, { ...init, signal: AbortSignal.timeout(this.options.timeoutMs ?? 10_000) });
    } catch (error) {
      throw new ImDeliveryError(`WeCom API unreachable: ${(error as Error).message}`, true);
    }
    if (response.status >= 500 || response.status === 429) throw new ImDeliveryError(`WeCom API answered HTTP ${response.status}`, true);
    let answer: Record<string, unknown>;
    try {
      answer = (await response.json()) as Record<string, unknown>;
    } catch {
      throw new ImDeliveryError(`WeCom API answered HTTP ${response.status} without JSON`, response.status >= 500);
    }
    const errcode = typeof answer.errcode === "number" ? answer.errcode : 0;
    if (errcode === 0) return answer;
    const what = `WeCom errcode ${errcode}: ${String(answer.errmsg ?? "")}`.slice(0, 300);
    if (tokenErrors.has(errcode)) throw new ImDeliveryError(what, true, undefined, true);
    if (busyErrors.has(errcode)) throw new ImDeliveryError(what, true, 1_000);
    if (errcode === ipNotAllowed) {
      this.options.logger.error({ errcode }, "WeCom refused this server's IP: add its public egress IP to the app's trusted IPs (企业可信IP) in the admin console");
    }
    throw new ImDeliveryError(what, false);
  }
}
