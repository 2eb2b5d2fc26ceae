// Feishu's event webhook: raw-body signature and token checks, the encrypted envelope, url_verification, then the channel.
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { ClawError } from "../../../core/errors.js";
import type { Logger } from "../../../logging/logger.js";
import type { GatewayEvents } from "../../gateway-events.js";
import { replyError, replyJson } from "../../http/http-io.js";
import type { FeishuConfig } from "./feishu-config.js";
import { decryptFeishuPayload, sameSecret, verifyFeishuSignature } from "./feishu-crypto.js";

/** Largest delivery accepted: an event is a few KB; the platform never sends near this. */
const maxBodyBytes = 256 * 1024;

export interface FeishuWebhookOptions {
  config: FeishuConfig;
  events: GatewayEvents;
  logger: Logger;
  /** Whether this route reports each request as a received frame (on a port the http gateway owns, that gateway counts its own). */
  countRequests: boolean;
  /** A verified event callback: `{...header, ...event}` with header.event_type. */
  onEvent(event: Record<string, unknown>): void;
  now?: () => number;
}

/** Adds `POST callback_path` in a scope of its own whose parser keeps the raw bytes (the signature is over them). */
export function registerFeishuWebhook(app: FastifyInstance, options: FeishuWebhookOptions): void {
  void app.register(async (scope) => {
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser("*", { parseAs: "buffer", bodyLimit: maxBodyBytes }, (_request, body, done) => done(null, body));
    scope.post(options.config.callback_path, { bodyLimit: maxBodyBytes }, (request, reply) => handleDelivery(request, reply, options));
  });
}

function handleDelivery(request: FastifyRequest, reply: FastifyReply, options: FeishuWebhookOptions): void {
  const { config, events } = options;
  if (options.countRequests) events.frameReceived();
  const refuse = (error: ClawError) => {
    events.frameRefused(error.code);
    replyError(reply, error);
  };
  const forged = (reason: string) => {
    events.authFailed("unauthorized", reason, request.ip);
    replyError(reply, new ClawError("unauthorized", "The delivery's signature or token does not check out."));
  };
  const raw = Buffer.isBuffer(request.body) ? request.body : undefined;
  if (!raw) return refuse(new ClawError("bad_request", "The body is missing."));
  let body = parseObject(raw.toString("utf8"));
  if (!body) return refuse(new ClawError("bad_request", "The body is not a JSON object."));

  let signed = false;
  if (config.encrypt_key) {
    const signature = header(request, "x-lark-signature");
    if (signature !== undefined) {
      const timestamp = header(request, "x-lark-request-timestamp") ?? "";
      const nonce = header(request, "x-lark-request-nonce") ?? "";
      if (!verifyFeishuSignature(signature, timestamp, nonce, config.encrypt_key, raw)) return forged("bad X-Lark-Signature");
      const now = (options.now ?? Date.now)() / 1000;
      // Signed and fresh, or a recorded delivery played again later.
      if (!/^\d{1,12}$/.test(timestamp) || Math.abs(now - Number(timestamp)) > config.max_clock_skew) return forged("stale X-Lark-Request-Timestamp");
      signed = true;
    }
    if (typeof body.encrypt !== "string") return forged("a plaintext body where encrypt_key is set");
    try {
      body = parseObject(decryptFeishuPayload(body.encrypt, config.encrypt_key));
    } catch {
      body = undefined;
    }
    if (!body) return forged("the encrypt field does not decrypt with encrypt_key");
  }
  const envelope = record(body.header);
  const token = envelope?.token ?? body.token;
  if (config.verification_token && (typeof token !== "string" || !sameSecret(token, config.verification_token))) return forged("wrong verification token");

  if (body.type === "url_verification") {
    // Unsigned by the platform; answered within its 1 s with the challenge alone.
    if (typeof body.challenge !== "string") return refuse(new ClawError("bad_request", "url_verification without a challenge."));
    if (options.countRequests) events.frameSent();
    return replyJson(reply, 200, { challenge: body.challenge });
  }
  // With encrypt_key, only url_verification may come unsigned.
  if (config.encrypt_key && !signed) return forged("an event without X-Lark-Signature");
  const event = record(body.event);
  if (body.schema !== "2.0" || !envelope || !event) return refuse(new ClawError("bad_request", "Only v2.0 event callbacks are taken."));
  // 200 at once: Feishu re-pushes what is not acknowledged within 3 s (the answer is sent through the API later).
  try {
    options.onEvent({ ...envelope, ...event });
  } catch (error) {
    options.logger.error({ err: error }, "feishu event failed");
  }
  if (options.countRequests) events.frameSent();
  replyJson(reply, 200, {});
}

function header(request: FastifyRequest, name: string): string | undefined {
  const value = request.headers[name];
  return typeof value === "string" ? value : undefined;
}

function parseObject(text: string): Record<string, unknown> | undefined {
  try {
    return record(JSON.parse(text));
  } catch {
    return undefined;
  }
}

function record(value: unknown): Record<string, unknown> | undefined {
  return typeof value === "object" && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
}
