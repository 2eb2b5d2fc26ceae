// What a route module of the OpenAI API gets from the HTTP gateway: config, the node, the served names, authentication.
import type { FastifyReply, FastifyRequest } from "fastify";
import type { HttpGatewayConfig } from "../../config/schema.js";
import type { Principal } from "../../core/types.js";
import type { GatewayContext } from "../gateway.js";
import type { ServedModels } from "./served-models.js";

export interface OpenAiRouteContext {
  config: HttpGatewayConfig;
  context: GatewayContext;
  models: ServedModels;
  /** Route options whose onRequest hook checks the token before the body is read. */
  authenticated: { onRequest: (request: FastifyRequest) => Promise<void> };
  /** The principal the onRequest hook verified for this request. */
  principalOf(request: FastifyRequest): Principal;
}

/**
 * A signal that aborts a request's work when the client hangs up before its response was complete, or when the
 * token it authenticated with is revoked meanwhile (POST /admin/tokens/revoke): a long answer stops at once, as an
 * open WebSocket connection does.
 */
export function requestSignal(reply: FastifyReply, context: Pick<GatewayContext, "authenticator">, principal: Principal): AbortSignal {
  const controller = new AbortController();
  const response = reply.raw;
  const unwatch = context.authenticator.watchRevocation?.(principal, () => controller.abort());
  response.on("close", () => {
    unwatch?.();
    if (!response.writableFinished) controller.abort();
  });
  return controller.signal;
}
