// The robot HTTP callback route: check the timestamp/sign headers, answer 200 at once, hand the message to the channel.
import type { FastifyInstance } from "fastify";
import { ClawError } from "../../../core/errors.js";
import type { Logger } from "../../../logging/logger.js";
import type { GatewayEvents } from "../../gateway-events.js";
import { replyError, replyJson } from "../../http/http-io.js";
import type { ImChannel } from "../im-channel.js";
import { parseBotMessage, type DingtalkTarget } from "./dingtalk-message.js";
import { checkCallbackSignature } from "./dingtalk-signature.js";

export interface DingtalkCallbackOptions {
  path: string;
  appSecret: string;
  maxClockSkewSeconds: number;
  maxBody: number;
  channel: ImChannel<DingtalkTarget>;
  events: GatewayEvents;
  logger: Logger;
}

/** Registers `POST path` on a listener's route table. */
export function dingtalkCallbackRoutes(options: DingtalkCallbackOptions): (app: FastifyInstance) => void {
  return (app) => {
    app.post(options.path, { bodyLimit: options.maxBody }, async (request, reply) => {
      options.events.frameReceived();
      const check = checkCallbackSignature({ timestamp: request.headers.timestamp, sign: request.headers.sign }, options.appSecret, options.maxClockSkewSeconds);
      if (!check.ok) {
        options.events.authFailed("unauthorized", check.reason, request.ip);
        options.logger.warn({ reason: check.reason, remote: request.ip }, "DingTalk callback refused");
        return replyError(reply, new ClawError("unauthorized", `The DingTalk signature was refused: ${check.reason}.`));
      }
      const parsed = parseBotMessage(request.body);
      if ("error" in parsed) {
        options.events.frameRefused("bad_request");
        return replyError(reply, new ClawError("bad_request", `Not a DingTalk robot message: ${parsed.error}.`));
      }
      // The answer goes out later through the sessionWebhook or the OpenAPI; DingTalk only needs the 200 now.
      const outcome = options.channel.receive(parsed.inbound, parsed.target);
      options.logger.debug({ messageId: parsed.inbound.messageId, outcome }, "DingTalk callback message");
      replyJson(reply, 200, {});
    });
  };
}
