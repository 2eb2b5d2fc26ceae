// One fastify server per port, shared by the gateways that name it: HTTP routes on fastify, WebSocket upgrades on its node server (TLS per port).
import http from "node:http";
import https from "node:https";
import type { Socket } from "node:net";
import type { Duplex } from "node:stream";
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from "fastify";
import type { HttpGatewayConfig } from "../config/schema.js";
import { ClawError } from "../core/errors.js";
import type { Logger } from "../logging/logger.js";
import { ignoredGatewayEvents, type GatewayEvents } from "./gateway-events.js";
import { ConnectionLimiter, type ConnectionLimits } from "./http/connection-limiter.js";
import { fromClientError, fromFastifyError } from "./http/http-errors.js";
import { isReported } from "./http/reported-errors.js";
import { rawErrorResponse, replyError, replyJson } from "./http/http-io.js";
import { loadTlsOptions, sameTls, type LoadedTls } from "./tls-options.js";
import { watchTlsSockets } from "./tls-socket-watch.js";

/** Owns its errors: it answers every failure on the socket itself (the listener only guards against a throw). */
export type UpgradeHandler = (request: http.IncomingMessage, socket: Duplex, head: Buffer) => void | Promise<void>;
/** Adds a gateway's routes to the port's route table (fastify's router: one `app.get/post/route` per route). */
export type RouteRegistrar = (app: FastifyInstance) => void;

/** The keys of a `websocket` or `http` gateway that shape its port's server. */
export type ListenerConfig = Pick<
  HttpGatewayConfig,
  "host" | "port" | "max_connections" | "max_connections_per_ip" | "headers_timeout" | "request_timeout" | "keep_alive_timeout" | "tls"
>;

interface Listener {
  app: FastifyInstance;
  server: http.Server;
  host: string;
  /** The port's TLS (wss://, https://), from the first gateway that named it; the others must give the same block. */
  tls?: LoadedTls;
  /** The gateways' configs on this port: where two gateways share it, each limit is the smaller of the two. */
  configs: ListenerConfig[];
  limiter: ConnectionLimiter;
  /** Registered paths and their methods, for 405 answers with an Allow header. */
  routeMethods: Map<string, Set<string>>;
  hasRoutes: boolean;
  upgradeHandler?: UpgradeHandler;
  /** The channel events of the gateway that serves the port's routes (the http gateway), else of its WebSocket gateway. */
  events: GatewayEvents;
  /** Whether the port's sockets are reported as connections: only with an http gateway (a WebSocket gateway counts its own). */
  countsSockets: boolean;
  /** The port's open sockets that are HTTP connections (not upgraded to WebSocket), counted while countsSockets. */
  httpOpen: number;
  logger: Logger;
  users: number;
  listening?: Promise<void>;
}

/** The body of a request whose JSON did not parse, until the preValidation hook refuses it. */
const malformedJson = Symbol("malformed JSON");

/** How often Node checks open connections against headers_timeout and request_timeout, in milliseconds. */
const connectionsCheckingInterval = 1_000;

export class HttpListeners {
  private readonly listeners = new Map<number, Listener>();
  /** Where relative TLS file names are resolved: the config file's directory. */
  private readonly baseDir: string;

  constructor(options: { baseDir?: string } = {}) {
    this.baseDir = options.baseDir ?? process.cwd();
  }

  /**
   * Claims the server on config.host:config.port for routes and/or an upgrade handler. Call before listen().
   * `mount` adds routes to the port of another gateway (a webhook on the http gateway's port) without claiming it:
   * the port stays that gateway's (its events, its listen and release).
   */
  attach(config: ListenerConfig, logger: Logger, handlers: { routes?: RouteRegistrar; upgrade?: UpgradeHandler; events?: GatewayEvents; mount?: RouteRegistrar }): void {
    let listener = this.listeners.get(config.port);
    if (listener && listener.host !== config.host) {
      throw new Error(`Gateways on port ${config.port} name different hosts (${listener.host} and ${config.host}); one port has one host`);
    }
    if (listener && !sameTls(listener.configs[0]?.tls, config.tls)) {
      throw new Error(`Gateways on port ${config.port} configure tls differently; one port has one TLS setup: give them the same tls block, or separate ports`);
    }
    if (!listener) {
      const tls = config.tls ? loadTlsOptions(config.tls, this.baseDir, `port ${config.port}`) : undefined;
      // The handshake must finish within headers_timeout (node's default, 120 s, would be a slowloris before any header).
      if (tls) {
        tls.options.handshakeTimeout = config.headers_timeout * 1000;
        logger.info({ port: config.port, certificate: tls.subject, valid_to: tls.validTo.toISOString(), client_certificates: config.tls?.client_certificates }, "TLS certificate loaded");
      }
      listener = createListener(config.host, logger, tls);
      this.listeners.set(config.port, listener);
    }
    listener.configs.push(config);
    applyTimeouts(listener);
    if (handlers.routes) {
      if (listener.hasRoutes) throw new Error(`Two HTTP gateways name port ${config.port}`);
      listener.hasRoutes = true;
      listener.events = handlers.events ?? ignoredGatewayEvents;
      listener.countsSockets = true;
      handlers.routes(listener.app);
    }
    if (handlers.upgrade) {
      if (listener.upgradeHandler) throw new Error(`Two WebSocket gateways name port ${config.port}`);
      listener.upgradeHandler = handlers.upgrade;
      if (!listener.hasRoutes) listener.events = handlers.events ?? ignoredGatewayEvents;
    }
    handlers.mount?.(listener.app);
    if (handlers.routes || handlers.upgrade) listener.users += 1;
  }

  /** Starts listening (once per port); resolves with the bound port. */
  async listen(port: number): Promise<number> {
    const listener = this.listeners.get(port);
    if (!listener) throw new Error(`Nothing attached to port ${port}`);
    listener.listening ??= (async () => {
      await listener.app.ready();
      await new Promise<void>((resolve, reject) => {
        listener.server.once("error", reject);
        listener.server.listen(port, listener.host, () => {
          listener.server.off("error", reject);
          resolve();
        });
      });
    })();
    await listener.listening;
    const address = listener.server.address();
    return typeof address === "object" && address ? address.port : port;
  }

  /** The port's open connections and the bytes buffered for them (all gateways on the port together). */
  stats(port: number): { open: number; bufferedBytes: number } {
    return this.listeners.get(port)?.limiter.stats() ?? { open: 0, bufferedBytes: 0 };
  }

  /** The port's open HTTP connections: its sockets less those a WebSocket gateway took over (0 on a port without an http gateway). */
  httpConnections(port: number): number {
    return this.listeners.get(port)?.httpOpen ?? 0;
  }

  /** Releases one user of the port; the server closes when the last one leaves. */
  async release(port: number): Promise<void> {
    const listener = this.listeners.get(port);
    if (!listener) return;
    listener.users -= 1;
    if (listener.users > 0) return;
    this.listeners.delete(port);
    await new Promise<void>((resolve) => {
      listener.server.close(() => resolve());
      listener.server.closeAllConnections();
    });
    await listener.app.close();
  }
}

function createListener(host: string, logger: Logger, tls: LoadedTls | undefined): Listener {
  let server: http.Server | undefined;
  const listener = {} as Listener;
  const limiter = new ConnectionLimiter(() => connectionLimits(listener.configs));
  const app = Fastify({
    logger: false,
    return503OnClosing: false,
    forceCloseConnections: false,
    // Errors in the URL (`/%`) and router limits come to us instead of fastify's default body.
    frameworkErrors: (error, _request, reply) => refuse(listener, reply, fromFastifyError(error)),
    // Parser errors and request timeouts, before any request exists: a coded answer on the raw socket.
    clientErrorHandler: (error, socket) => answerClientError(error, socket, listener),
    serverFactory: (handler) => {
      const serve = (request: http.IncomingMessage, response: http.ServerResponse): void => {
        // A refused connection may still send a request; it gets nothing more.
        if (limiter.isRefused(request.socket)) return void request.socket.destroy();
        // One frame in per request, one out per response written whole (an SSE stream is one response).
        listener.events.frameReceived();
        response.once("finish", () => listener.events.frameSent());
        handler(request, response);
      };
      // https.Server has http.Server's request, upgrade, timeout and close API; only its sockets are TLS sockets.
      // An HTTP/1.1 request without a Host header reaches the routes (and gets their coded answers) rather than Node's bare 400.
      const options = { connectionsCheckingInterval, requireHostHeader: false };
      server = tls ? (https.createServer({ ...tls.options, ...options }, serve) as unknown as http.Server) : http.createServer(options, serve);
      return server;
    },
  });
  if (!server) throw new Error("fastify did not create its server");
  Object.assign(listener, { app, server, host, tls, configs: [], limiter, routeMethods: new Map(), hasRoutes: false, events: ignoredGatewayEvents, countsSockets: false, httpOpen: 0, logger, users: 0 });
  server.on("connection", (socket: Socket) => {
    if (!limiter.admit(socket)) return listener.events.frameRefused("overloaded");
    // On a TLS port a connection counts once its handshake is done (the socket requests and upgrades arrive on).
    if (listener.countsSockets && !tls) countConnection(listener, socket);
  });
  if (tls) {
    watchTlsSockets(server, {
      logger,
      events: () => listener.events,
      secured: (socket) => {
        if (listener.countsSockets) countConnection(listener, socket);
      },
    });
  }
  server.on("upgrade", (request: http.IncomingMessage, socket: Duplex, head: Buffer) => dispatchUpgrade(listener, request, socket, head));
  // Only our JSON parser: any other content type is refused with bad_request (the OpenAI API takes JSON only).
  app.removeAllContentTypeParsers();
  app.addContentTypeParser("application/json", { parseAs: "string" }, (_request, body, done) => {
    try {
      done(null, JSON.parse(body as string));
    } catch {
      // Not an error here: fastify would close the connection, though the body was read whole.
      done(null, malformedJson);
    }
  });
  // Only origin-form targets ("/path") and absolute-form ones ("http://host/path") name a resource here; "*" and the
  // like would otherwise reach the router as if they were "/" (the web chat) and get a page instead of an error.
  app.addHook("onRequest", (request, _reply, done) => {
    const target = request.raw.url ?? "";
    done(target.startsWith("/") || /^https?:\/\//i.test(target) ? undefined : new ClawError("bad_request", "The request target must be a path starting with /."));
  });
  app.addHook("preValidation", (request, _reply, done) => {
    done(request.body === malformedJson ? new ClawError("bad_request", "The body is not valid JSON.") : undefined);
  });
  app.addHook("onRoute", (route) => {
    const methods = listener.routeMethods.get(route.url) ?? new Set<string>();
    for (const method of [route.method].flat()) methods.add(method);
    listener.routeMethods.set(route.url, methods);
  });
  app.setErrorHandler((error, request, reply) => {
    const clawError = fromFastifyError(error, request.routeOptions.bodyLimit);
    if (clawError.status >= 500) listener.logger.error({ err: error, url: request.url }, "request failed");
    // The pipeline's errors and refused credentials are reported already (observers, authFailed).
    if (isReported(error)) return replyError(reply, clawError);
    refuse(listener, reply, clawError);
  });
  app.setNotFoundHandler((request, reply) => notFound(listener, request, reply));
  return listener;
}

function notFound(listener: Listener, request: FastifyRequest, reply: FastifyReply): void {
  if (!listener.hasRoutes) {
    // A WebSocket-only port: plain requests are told to upgrade.
    void reply.header("upgrade", "websocket");
    listener.events.frameRefused("bad_request");
    return replyJson(reply, 426, { error: { code: "bad_request", message: "This port speaks WebSocket; upgrade the connection." } });
  }
  const path = request.url.split("?", 1)[0] ?? "";
  const methods = listener.routeMethods.get(path);
  if (methods) {
    const allow = [...methods].sort().join(", ");
    void reply.header("allow", allow);
    return refuse(listener, reply, new ClawError("method_not_allowed", `${request.method} is not served at ${path}; use ${allow}.`));
  }
  refuse(listener, reply, new ClawError("not_found", `No route ${request.method} ${path.slice(0, 200)}`));
}

/** Answers an error no request observer saw; a 4xx (the client's request was refused before the pipeline) is a refused frame. */
function refuse(listener: Listener, reply: FastifyReply, error: ClawError): void {
  if (error.status >= 400 && error.status < 500) listener.events.frameRefused(error.code);
  replyError(reply, error);
}

/** Sockets closed by the node for a protocol error or timeout (clientError): their close is abnormal. */
const droppedSockets = new WeakSet<Duplex>();
/** Sockets handed to the WebSocket gateway: from then on that gateway reports them. */
const upgradedSockets = new WeakSet<Duplex>();

/** An HTTP connection: opened now; closed when the socket closes (abnormal on a reset or a node-side drop), or when it upgrades. */
function countConnection(listener: Listener, socket: Socket): void {
  listener.httpOpen += 1;
  listener.events.connectionOpened();
  socket.once("close", (hadError: boolean) => {
    if (upgradedSockets.has(socket)) return;
    listener.httpOpen -= 1;
    listener.events.connectionClosed(hadError || droppedSockets.has(socket));
  });
}

function dispatchUpgrade(listener: Listener, request: http.IncomingMessage, socket: Duplex, head: Buffer): void {
  // Node removed its own error listener before 'upgrade': a reset now would be an unhandled 'error' event.
  socket.on("error", () => socket.destroy());
  if (listener.limiter.isRefused(socket as Socket)) return void socket.destroy();
  // The socket leaves HTTP: its HTTP connection ends cleanly here, and the WebSocket gateway reports the connection it opens.
  if (listener.countsSockets && !upgradedSockets.has(socket)) {
    upgradedSockets.add(socket);
    listener.httpOpen -= 1;
    listener.events.connectionClosed(false);
  }
  if (!listener.upgradeHandler) {
    listener.events.frameRefused("not_found");
    return void socket.end(rawErrorResponse(new ClawError("not_found", "This port serves no WebSocket endpoint.")));
  }
  try {
    const pending = listener.upgradeHandler(request, socket, head);
    if (pending) pending.catch((error: unknown) => upgradeFailed(listener, socket, error));
  } catch (error) {
    upgradeFailed(listener, socket, error);
  }
}

function upgradeFailed(listener: Listener, socket: Duplex, error: unknown): void {
  listener.logger.error({ err: error }, "WebSocket upgrade failed");
  socket.destroy();
}

function answerClientError(error: Error, socket: Duplex, listener: Listener): void {
  const clawError = fromClientError(error);
  droppedSockets.add(socket);
  if (clawError) {
    // A request that could not be read (malformed, too large, too slow): it arrived, and was refused.
    listener.events.frameReceived();
    listener.events.frameRefused(clawError.code);
  }
  if (clawError && socket.writable) {
    listener.logger.debug({ err: error }, "client error");
    socket.end(rawErrorResponse(clawError));
  }
  socket.destroy();
}

/** The smallest value of each limit among the gateways on a port. */
function connectionLimits(configs: ListenerConfig[]): ConnectionLimits {
  return {
    maxConnections: Math.min(...configs.map((config) => config.max_connections)),
    maxConnectionsPerIp: Math.min(...configs.map((config) => config.max_connections_per_ip)),
  };
}

/** Slowloris defences: headers and whole request within their timeouts; idle keep-alive connections closed. */
function applyTimeouts(listener: Listener): void {
  const seconds = (key: "headers_timeout" | "request_timeout" | "keep_alive_timeout") => Math.min(...listener.configs.map((config) => config[key]));
  const requestTimeout = seconds("request_timeout") * 1000;
  listener.server.requestTimeout = requestTimeout;
  listener.server.headersTimeout = Math.min(seconds("headers_timeout") * 1000, requestTimeout);
  listener.server.keepAliveTimeout = seconds("keep_alive_timeout") * 1000;
}
