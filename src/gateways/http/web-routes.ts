// The web chat at `/`, the operator console at `/console`, their files under `/web/` and `/web/config.json` (what the pages connect to).
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import type { HttpGatewayConfig } from "../../config/schema.js";
import { ClawError } from "../../core/errors.js";
import { clawbotVersion } from "../../core/version.js";
import type { WebsocketEndpoint } from "../gateway.js";
import { replyJson } from "./http-io.js";
import { loadWebAssets, type WebAsset } from "./web-assets.js";

export interface WebRouteContext {
  config: HttpGatewayConfig;
  /** The node's WebSocket gateways (bound ports); the chat connects to the first. */
  websocketEndpoints(): WebsocketEndpoint[];
  /** The port this http gateway is bound to (a WebSocket gateway on the same port is reached at the page's own origin). */
  boundPort(): number | undefined;
}

/** Pages and the paths they are served at (each one's files are under /web/<name>/). */
const pages: Record<string, string> = { "/": "/web/chat/index.html", "/console": "/web/console/index.html" };

export function registerWebRoutes(app: FastifyInstance, route: WebRouteContext): void {
  const assets = loadWebAssets();
  const serve = (request: FastifyRequest, reply: FastifyReply, asset: WebAsset | undefined) => {
    if (!asset) throw new ClawError("not_found", "No such file of the web chat or console.");
    securityHeaders(reply, request, route);
    void reply.header("cache-control", "no-cache").header("etag", asset.etag);
    if (request.headers["if-none-match"] === asset.etag) return reply.code(304).send();
    return reply.code(200).type(asset.type).send(asset.body);
  };
  for (const [url, file] of Object.entries(pages)) app.get(url, async (request, reply) => serve(request, reply, assets.get(file)));
  app.get("/web/config.json", async (request, reply) => {
    securityHeaders(reply, request, route);
    void reply.header("cache-control", "no-store");
    replyJson(reply, 200, webConfig(route));
  });
  app.get<{ Params: { "*": string } }>("/web/*", async (request, reply) => serve(request, reply, assets.get(`/web/${request.params["*"]}`)));
}

/**
 * What the pages need to know: where the WebSocket is (`same_origin`: the page's own host and port, as behind a
 * reverse proxy), whether it wants a token, and whether a password login is offered (`POST /auth/login`).
 */
export function webConfig(route: WebRouteContext): Record<string, unknown> {
  const endpoint = route.websocketEndpoints()[0];
  const { auth } = route.config;
  return {
    version: clawbotVersion,
    websocket: endpoint
      ? {
          same_origin: endpoint.port !== undefined && endpoint.port === route.boundPort(),
          port: endpoint.port ?? null,
          path: endpoint.path,
          tls: endpoint.tls,
          auth: endpoint.auth,
        }
      : null,
    login: auth.type === "jwt" && (auth.users?.length ?? 0) > 0,
  };
}

/**
 * A strict Content-Security-Policy (scripts, styles and connections only from this node: model output that slipped
 * past the renderer still could not run a script or send data elsewhere), no framing, no sniffing, no referrer.
 */
function securityHeaders(reply: FastifyReply, request: FastifyRequest, route: WebRouteContext): void {
  const sockets = websocketOrigins(request, route);
  const policy = [
    "default-src 'none'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    "font-src 'self'",
    `connect-src 'self'${sockets.length > 0 ? ` ${sockets.join(" ")}` : ""}`,
    "manifest-src 'self'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
  ].join("; ");
  void reply
    .header("content-security-policy", policy)
    .header("x-content-type-options", "nosniff")
    .header("x-frame-options", "DENY")
    .header("referrer-policy", "no-referrer");
}

/** The WebSocket gateways on other ports of the host the page was loaded from (`'self'` covers the same port). */
function websocketOrigins(request: FastifyRequest, route: WebRouteContext): string[] {
  const host = pageHost(request.headers.host);
  if (!host) return [];
  return route
    .websocketEndpoints()
    .filter((endpoint) => endpoint.port !== undefined && endpoint.port !== route.boundPort())
    .map((endpoint) => `${endpoint.tls ? "wss" : "ws"}://${host}:${endpoint.port}`);
}

/** The Host header's host name without its port, when it is a plain name or address (anything else adds no origin). */
function pageHost(header: string | undefined): string | undefined {
  if (!header) return undefined;
  const match = /^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+)(?::\d{1,5})?$/.exec(header);
  return match?.[1];
}
