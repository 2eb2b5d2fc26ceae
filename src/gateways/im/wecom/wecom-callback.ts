// The self-built app's callback route: GET URL verification (echostr) and POST encrypted XML messages, checked and decrypted.
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { ClawError } from "../../../core/errors.js";
import type { Logger } from "../../../logging/logger.js";
import type { GatewayEvents } from "../../gateway-events.js";
import { replyError } from "../../http/http-io.js";
import type { ImChannel } from "../im-channel.js";
import { readFlatXml } from "./flat-xml.js";
import type { WecomCallbackConfig } from "./wecom-config.js";
import { decryptMessage, verifySignature } from "./wx-biz-msg-crypt.js";

/** Where an answer to a callback message goes: the member who wrote (message/send touser). */
export interface WecomCallbackTarget {
  userId: string;
}

export interface WecomCallbackOptions {
  config: WecomCallbackConfig;
  channel: ImChannel<WecomCallbackTarget>;
  events: GatewayEvents;
  logger: Logger;
  /** Counts deliveries acknowledged but not answered (events, images, voice…). */
  onIgnored(kind: string): void;
}

/** A callback body is a small XML envelope; anything larger is refused before it is read whole. */
const bodyLimit = 256 * 1024;

/** Mounts GET and POST `callback_path` in an encapsulated scope whose only body parser reads any content type as text. */
export function registerWecomCallback(app: FastifyInstance, options: WecomCallbackOptions): void {
  void app.register(async (scope) => {
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser("*", { parseAs: "string" }, (_request, body, done) => done(null, body));
    scope.get(options.config.callback_path, (request, reply) => verifyUrl(request, reply, options));
    scope.post(options.config.callback_path, { bodyLimit }, (request, reply) => receive(request, reply, options));
  });
}

/** The signed query of every callback; a missing or repeated parameter is malformed. */
function signedQuery(request: FastifyRequest, names: readonly string[]): Record<string, string> {
  const query = (request.query ?? {}) as Record<string, unknown>;
  const values: Record<string, string> = {};
  for (const name of names) {
    const value = query[name];
    if (typeof value !== "string" || value === "" || value.length > 4096) throw new ClawError("bad_request", `The query parameter ${name} is missing or malformed.`);
    values[name] = value;
  }
  return values;
}

/** The signature and the timestamp (a stale one is a replay): both are authentication, refused with unauthorized. */
function authenticate(request: FastifyRequest, options: WecomCallbackOptions, query: Record<string, string>, encrypted: string): void {
  const { token, timestamp_tolerance: tolerance } = options.config;
  const refuse = (reason: string): never => {
    options.events.authFailed("unauthorized", reason, request.socket.remoteAddress);
    throw new ClawError("unauthorized", `The callback was refused: ${reason}.`);
  };
  if (!verifySignature(token, query.timestamp!, query.nonce!, encrypted, query.msg_signature!)) refuse("bad msg_signature");
  const seconds = /^\d{1,12}$/.test(query.timestamp!) ? Number(query.timestamp) : Number.NaN;
  if (!(Math.abs(Date.now() / 1000 - seconds) <= tolerance)) refuse(`timestamp more than ${tolerance} s from this server's clock`);
}

function fail(reply: FastifyReply, options: WecomCallbackOptions, error: unknown, countReceived: boolean): void {
  const clawError = error instanceof ClawError ? error : new ClawError("bad_request", "The callback could not be read.");
  // authFailed was reported for unauthorized; everything else is a refused frame.
  if (countReceived) options.events.frameReceived();
  if (clawError.code !== "unauthorized") options.events.frameRefused(clawError.code);
  replyError(reply, clawError);
}

function verifyUrl(request: FastifyRequest, reply: FastifyReply, options: WecomCallbackOptions): void {
  options.events.frameReceived();
  try {
    const query = signedQuery(request, ["msg_signature", "timestamp", "nonce", "echostr"]);
    authenticate(request, options, query, query.echostr!);
    const { message } = decryptMessage({ encodingAesKey: options.config.encoding_aes_key, encrypted: query.echostr!, receiveId: options.config.corp_id });
    // The plaintext exactly: no quotes, BOM or newline.
    void reply.code(200).header("content-type", "text/plain; charset=utf-8").send(message);
    options.events.frameSent();
  } catch (error) {
    fail(reply, options, error, false);
  }
}

// A text message is counted by the channel (received, sent); every other POST is counted here.
function receive(request: FastifyRequest, reply: FastifyReply, options: WecomCallbackOptions): void {
  try {
    const query = signedQuery(request, ["msg_signature", "timestamp", "nonce"]);
    const body = typeof request.body === "string" ? request.body : "";
    const envelope = readFlatXml(body);
    const encrypted = envelope.Encrypt;
    if (!encrypted) throw new ClawError("bad_request", "The XML body has no Encrypt field.");
    authenticate(request, options, query, encrypted);
    const { message } = decryptMessage({ encodingAesKey: options.config.encoding_aes_key, encrypted, receiveId: options.config.corp_id });
    const fields = readFlatXml(message);
    dispatch(fields, options);
    // An empty 200 stops WeCom's retries; the answer follows through message/send.
    void reply.code(200).header("content-type", "text/plain; charset=utf-8").send("");
  } catch (error) {
    fail(reply, options, error, true);
  }
}

function dispatch(fields: Record<string, string>, options: WecomCallbackOptions): void {
  const type = fields.MsgType ?? "";
  const from = fields.FromUserName ?? "";
  if (type !== "text" || !from || !fields.MsgId) {
    options.events.frameReceived();
    options.onIgnored(type === "event" ? `event:${fields.Event ?? ""}` : type || "unknown");
    return;
  }
  const outcome = options.channel.receive(
    { messageId: fields.MsgId, conversationId: from, chatType: "direct", senderId: from, text: fields.Content ?? "", mentioned: true },
    { userId: from },
  );
  options.logger.debug({ msgid: fields.MsgId, outcome }, "wecom message");
}
