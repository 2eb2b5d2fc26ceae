// POST /auth/login: a user of `auth.users` trades a username and password for a token this node signs (the web chat's login form).
import type { FastifyInstance } from "fastify";
import { z } from "zod";
import type { HttpGatewayConfig } from "../../config/schema.js";
import { ClawError } from "../../core/errors.js";
import type { Logger } from "../../logging/logger.js";
import { createLoginService, type LoginRefusal } from "../../security/login-service.js";
import type { GatewayEvents } from "../gateway-events.js";
import { replyJson } from "./http-io.js";
import { invalidBodyError } from "./invalid-body-error.js";
import { alreadyReported } from "./reported-errors.js";

export interface LoginRouteContext {
  config: HttpGatewayConfig;
  logger: Logger;
  /** Refused logins are reported as refused credentials (metrics count them, the audit ledger records them). */
  events: Pick<GatewayEvents, "authFailed">;
}

/** A login is two short strings: a small body limit, whatever the gateway's max_body. */
export const maxLoginBody = 8 * 1024;

const loginBodySchema = z.strictObject({
  username: z.string().min(1).max(128),
  password: z.string().min(1).max(1024),
});

/**
 * Registers POST /auth/login. Without `users` in the gateway's jwt auth (or with auth none) it answers 404 not_found,
 * before the body is read. Throws (the node does not start) when a user's password_hash cannot be checked.
 */
export function registerLoginRoute(app: FastifyInstance, route: LoginRouteContext): void {
  const service = createLoginService(route.config.auth);
  const offered = {
    onRequest: async () => {
      if (!service) throw new ClawError("not_found", "This gateway has no password login.");
    },
  };
  app.post("/auth/login", { ...offered, bodyLimit: maxLoginBody }, async (request, reply) => {
    if (!service) throw new ClawError("not_found", "This gateway has no password login.");
    const body = loginBodySchema.safeParse(request.body);
    if (!body.success) throw invalidBodyError(body.error);
    const { username, password } = body.data;
    const remote = request.socket.remoteAddress;
    let reported = false;
    const refused = (reason: LoginRefusal, error: ClawError) => {
      reported = true;
      route.events.authFailed(error.code, refusalReason(reason, username), remote);
    };
    let result;
    try {
      result = await service.login({ username, password, remote }, refused);
    } catch (error) {
      // A refused credential is counted once, as such; anything else (overloaded) as a refused request.
      throw reported ? alreadyReported(error) : error;
    }
    route.logger.info({ subject: result.subject }, "password login");
    void reply.header("cache-control", "no-store");
    replyJson(reply, 200, {
      token: result.token,
      token_type: "Bearer",
      expires_at: new Date(result.expiresAt).toISOString(),
      subject: result.subject,
      roles: result.roles,
      scopes: result.scopes,
    });
  });
}

/** What the ledger records: the username only when it is a configured one (an unknown "username" may be a mistyped password). */
function refusalReason(reason: LoginRefusal, username: string): string {
  return reason === "wrong password" ? `password login refused: wrong password for "${username}"` : `password login refused: ${reason}`;
}
