// DingTalk's outbound side: the sessionWebhook while valid, else the robot OpenAPI with an oauth2 access token (TokenCache).
import type { Logger } from "../../../logging/logger.js";
import { ImDeliveryError } from "../im-channel.js";
import { TokenCache } from "../token-cache.js";
import type { DingtalkTarget } from "./dingtalk-message.js";

/**
 * The size we split answers at, in UTF-8 bytes. No official limit was found for robot markdown (about 20000 bytes is
 * the figure commonly cited, unverified); a little under it leaves room for msgParam's JSON escaping.
 */
export const dingtalkMaxMessageBytes = 19_000;
/** A sessionWebhook this close to its expiry is not used (the call itself takes time). */
const webhookMarginMs = 10_000;
/** sessionWebhook errcodes meaning "too fast": retry later rather than fall back. */
const webhookBusy = new Set([130101, 130102]);

export interface DingtalkApiOptions {
  apiBase: string;
  clientId: string;
  clientSecret: string;
  robotCode: string;
  logger: Logger;
  timeoutMs?: number;
}

export class DingtalkApi {
  readonly tokens: TokenCache;
  private readonly base: string;

  constructor(private readonly options: DingtalkApiOptions) {
    this.base = options.apiBase.replace(/\/+$/, "");
    this.tokens = new TokenCache(async () => {
      const answer = await this.call("POST", `${this.base}/v1.0/oauth2/accessToken`, { appKey: options.clientId, appSecret: options.clientSecret });
      if (typeof answer.accessToken !== "string" || answer.accessToken === "") throw new ImDeliveryError("oauth2/accessToken returned no accessToken", true);
      const expiresIn = typeof answer.expireIn === "number" && answer.expireIn > 0 ? answer.expireIn : 7200;
      return { token: answer.accessToken, expiresInSeconds: expiresIn };
    });
  }

  /** Sends one markdown piece: through the sessionWebhook while it is valid (and works), else the OpenAPI. */
  async send(target: DingtalkTarget, text: string): Promise<void> {
    const title = markdownTitle(text);
    if (target.sessionWebhook && !this.webhookAllowed(target.sessionWebhook)) {
      this.options.logger.warn({ host: safeHost(target.sessionWebhook) }, "DingTalk message named a sessionWebhook outside DingTalk and api_base; answering through the robot OpenAPI");
      target.sessionWebhook = undefined;
    }
    if (target.sessionWebhook && (target.sessionWebhookExpiresAt ?? 0) - webhookMarginMs > Date.now()) {
      const answer = await this.call("POST", target.sessionWebhook, { msgtype: "markdown", markdown: { title, text } }, "sessionWebhook").catch((error: unknown) => {
        if (error instanceof ImDeliveryError && error.retryable) throw error;
        // Refused (expired early, revoked): the OpenAPI still reaches the chat.
        this.options.logger.warn({ err: error }, "DingTalk sessionWebhook refused the answer; sending through the robot OpenAPI");
        target.sessionWebhook = undefined;
        return undefined;
      });
      if (answer) {
        const errcode = typeof answer.errcode === "number" ? answer.errcode : 0;
        if (errcode === 0) return;
        if (webhookBusy.has(errcode)) throw new ImDeliveryError(`DingTalk sessionWebhook errcode ${errcode}`, true, 2_000);
        this.options.logger.warn({ errcode }, "DingTalk sessionWebhook refused the answer; sending through the robot OpenAPI");
        target.sessionWebhook = undefined;
      }
    }
    await this.sendByOpenApi(target, title, text);
  }

  /**
   * The callback's sign does not cover the body, so a message's sessionWebhook is not trusted blindly (the node would
   * POST answers wherever it points): only https DingTalk hosts, or api_base's own host (a private deployment).
   */
  private webhookAllowed(webhook: string): boolean {
    try {
      const url = new URL(webhook);
      if (url.host === new URL(this.base).host) return true;
      return url.protocol === "https:" && (url.hostname === "dingtalk.com" || url.hostname.endsWith(".dingtalk.com"));
    } catch {
      return false;
    }
  }

  private async sendByOpenApi(target: DingtalkTarget, title: string, text: string): Promise<void> {
    const common = { robotCode: this.options.robotCode, msgKey: "sampleMarkdown", msgParam: JSON.stringify({ title, text }) };
    const token = await this.tokens.get();
    if (target.chatType === "group") {
      await this.call("POST", `${this.base}/v1.0/robot/groupMessages/send`, { ...common, openConversationId: target.conversationId }, "groupMessages/send", token);
      return;
    }
    if (!target.staffId) throw new ImDeliveryError("the sender has no staff id (an external user): the robot OpenAPI cannot reach them", false);
    const answer = await this.call("POST", `${this.base}/v1.0/robot/oToMessages/batchSend`, { ...common, userIds: [target.staffId] }, "oToMessages/batchSend", token);
    if (Array.isArray(answer.flowControlledStaffIdList) && answer.flowControlledStaffIdList.length > 0) {
      throw new ImDeliveryError("DingTalk flow-controlled the message", true, 2_000);
    }
    if (Array.isArray(answer.invalidStaffIdList) && answer.invalidStaffIdList.length > 0) {
      throw new ImDeliveryError("DingTalk does not know the recipient's staff id", false);
    }
  }

  /** One JSON call: network failures, 429/Throttling and 5xx are retryable; 401/InvalidAuthentication means a new token. */
  private async call(method: string, url: string, body: unknown, what = "oauth2/accessToken", token?: string): Promise<Record<string, unknown>> {
    let response: Response;
    try {
      response = await fetch(url, {
        method,
        headers: { "content-type": "application/json", accept: "application/json", ...(token ? { "x-acs-dingtalk-access-token": token } : {}) },
        body: JSON.stringify(body),
        signal: AbortSignal.timeout(this.options.timeoutMs ?? 10_000),
      });
    } catch (error) {
      throw new ImDeliveryError(`DingTalk ${what} unreachable: ${(error as Error).message}`, true);
    }
    let answer: Record<string, unknown> = {};
    try {
      const parsed: unknown = await response.json();
      if (parsed && typeof parsed === "object") answer = parsed as Record<string, unknown>;
    } catch {
      // A body that is not JSON: the status decides.
    }
    if (response.ok) return answer;
    const code = typeof answer.code === "string" ? answer.code : "";
    const message = `DingTalk ${what} answered HTTP ${response.status} ${code} ${String(answer.message ?? "")}`.trim().slice(0, 300);
    if (token && (response.status === 401 || /InvalidAuthentication|InvalidAccessToken|accessToken/i.test(code))) throw new ImDeliveryError(message, true, undefined, true);
    if (response.status === 429 || code.startsWith("Throttling")) throw new ImDeliveryError(message, true, retryAfterMs(response.headers.get("retry-after")));
    throw new ImDeliveryError(message, response.status >= 500);
  }
}

/** DingTalk shows a markdown message's title in notifications and the chat list: the answer's first words. */
export function markdownTitle(text: string): string {
  const line = text.split("\n").find((candidate) => candidate.trim() !== "") ?? "";
  const plain = line.replace(/^[#>*\-+\s`]+/, "").replace(/[*_`~[\]]/g, "").trim();
  return [...plain].slice(0, 30).join("") || "Clawbot";
}

function safeHost(url: string): string {
  try {
    return new URL(url).host.slice(0, 100);
  } catch {
    return "(not a URL)";
  }
}

function retryAfterMs(header: string | null): number | undefined {
  const seconds = header === null ? Number.NaN : Number(header);
  return Number.isFinite(seconds) && seconds >= 0 ? Math.min(seconds, 300) * 1000 : undefined;
}
