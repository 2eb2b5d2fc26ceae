// The metrics listener: its own node:http server answering GET/HEAD on metrics.path, optionally behind a bearer token.
import { createHash, timingSafeEqual } from "node:crypto";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { ClawError } from "../core/errors.js";
import { fromClientError } from "../gateways/http/http-errors.js";
import { rawErrorResponse, sendError } from "../gateways/http/http-io.js";
import { isLoopback } from "../gateways/loopback-host.js";
import type { Logger } from "../logging/logger.js";

export interface MetricsListenerOptions {
  host: string;
  /** 0: any free port (read it back from `port`). */
  port: number;
  path: string;
  /** When set, scrapes must send `Authorization: Bearer <token>`. */
  token?: string;
  /** The exposition text and its content type, made per scrape. */
  exposition: () => Promise<{ body: string; contentType: string }>;
  logger: Logger;
}

/** A scraper needs one connection; a few more leave room for a person with curl, none for a flood. */
const maxConnections = 32;
/** A request's headers must arrive within this; a scrape is answered in far less. */
const requestTimeoutMs = 10_000;

export class MetricsListener {
  private constructor(
    private readonly server: http.Server,
    readonly port: number,
  ) {}

  /** Binds host:port; a port in use fails with a message that says how to move it or turn the listener off. */
  static async open(options: MetricsListenerOptions): Promise<MetricsListener> {
    if (!options.token && !isLoopback(options.host)) {
      options.logger.warn(
        `metrics: listening on ${options.host} without a token: anyone who can reach port ${options.port} reads the node's metrics; set metrics.token or bind metrics.host to 127.0.0.1`,
      );
    }
    const expected = options.token === undefined ? undefined : digest(options.token);
    const server = http.createServer({ requestTimeout: requestTimeoutMs, headersTimeout: requestTimeoutMs }, (request, response) => {
      void answer(request, response, options, expected);
    });
    server.maxConnections = maxConnections;
    server.keepAliveTimeout = 30_000;
    // A request that is not valid HTTP, too large or too slow gets a coded answer on the raw socket (a reset, nothing).
    server.on("clientError", (error, socket) => {
      const clawError = fromClientError(error);
      if (clawError && socket.writable) socket.end(rawErrorResponse(clawError));
      socket.destroy();
    });
    await new Promise<void>((resolve, reject) => {
      const failed = (error: NodeJS.ErrnoException) => reject(new Error(listenFailure(error, options), { cause: error }));
      server.once("error", failed);
      server.listen(options.port, options.host, () => {
        server.off("error", failed);
        resolve();
      });
    });
    server.on("error", (error) => options.logger.error({ err: error }, "metrics listener error"));
    return new MetricsListener(server, (server.address() as AddressInfo).port);
  }

  /** Stops listening and closes idle keep-alive connections (a scrape in progress finishes). */
  async close(): Promise<void> {
    await new Promise<void>((resolve) => {
      this.server.close(() => resolve());
      this.server.closeIdleConnections();
    });
  }
}

async function answer(request: http.IncomingMessage, response: http.ServerResponse, options: MetricsListenerOptions, expected: Buffer | undefined): Promise<void> {
  // Whatever body a client sends is not read; discard it so the connection can be reused.
  request.resume();
  request.on("error", () => undefined);
  response.on("error", () => undefined);
  try {
    const path = (request.url ?? "").split("?", 1)[0];
    if (path !== options.path) return sendError(response, new ClawError("not_found", `No route ${request.method} ${path}; metrics are at ${options.path}.`));
    if (request.method !== "GET" && request.method !== "HEAD") {
      response.setHeader("allow", "GET, HEAD");
      return sendError(response, new ClawError("method_not_allowed", `${options.path} takes GET and HEAD.`));
    }
    if (expected && !hasToken(request.headers.authorization, expected)) {
      response.setHeader("www-authenticate", 'Bearer realm="clawbot metrics"');
      return sendError(response, new ClawError("unauthorized", "The metrics need Authorization: Bearer <metrics.token>."));
    }
    const { body, contentType } = await options.exposition();
    response.writeHead(200, { "content-type": contentType, "content-length": Buffer.byteLength(body), "cache-control": "no-store" });
    response.end(request.method === "HEAD" ? undefined : body);
  } catch (error) {
    options.logger.error({ err: error }, "collecting the metrics failed");
    sendError(response, new ClawError("internal", "Collecting the metrics failed; the node's log says why."));
  }
}

/** Fixed-length digests, so the comparison takes the same time whatever the token's length or content. */
function digest(token: string): Buffer {
  return createHash("sha256").update(token, "utf8").digest();
}

function hasToken(authorization: string | undefined, expected: Buffer): boolean {
  const match = /^Bearer +(\S+) *$/i.exec(authorization ?? "");
  return timingSafeEqual(digest(match?.[1] ?? ""), expected) && match !== null;
}

function listenFailure(error: NodeJS.ErrnoException, options: MetricsListenerOptions): string {
  const where = `${options.host}:${options.port}`;
  const remedy =
    "set metrics.port in the config (or CLAWBOT_METRICS_PORT, or clawbot start --metrics-port) to a free port, or turn the listener off with metrics: {enabled: false}";
  if (error.code === "EADDRINUSE") {
    return `metrics.port ${options.port} is in use on ${options.host} (Prometheus itself listens on 9090 by default): ${remedy}`;
  }
  if (error.code === "EACCES") return `metrics listener: no permission to listen on ${where} (ports below 1024 need privileges): ${remedy}`;
  return `metrics listener: cannot listen on ${where} (${error.code ?? error.message}): check metrics.host, or ${remedy}`;
}
