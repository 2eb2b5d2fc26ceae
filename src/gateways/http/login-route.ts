// POST /auth/login: a user of `auth.users` trades a username and password for a token this node signs (the web chat's login form).
import type { FastifyInstance } from "fastify";
import type { HttpGatewayConfig } from "../../config/schema.js";
import type { Logger } from "../../logging/logger.js";

export interface LoginRouteContext {
  config: HttpGatewayConfig;
  logger: Logger;
}

/** SEAM (helper F implements): registers POST /auth/login when the gateway's jwt auth has `users`. */
export function registerLoginRoute(_app: FastifyInstance, _route: LoginRouteContext): void {}
