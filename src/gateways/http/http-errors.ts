// Maps what fastify and Node's HTTP parser throw to our coded errors, so no framework error body ever reaches a client.
import { ClawError, toClawError } from "../../core/errors.js";

/** An error as fastify or Node hands it over: maybe a code (FST_ERR_*, HPE_*, ERR_*) and a status. */
interface FrameworkError {
  code?: unknown;
  statusCode?: unknown;
}

/** Fastify's request errors (body limit, content type, bad URL, …) as ClawErrors; ClawErrors pass through; the rest is internal. */
export function fromFastifyError(error: unknown, maxBody?: number): ClawError {
  if (error instanceof ClawError) return error;
  const { code, statusCode } = (error ?? {}) as FrameworkError;
  switch (code) {
    case "FST_ERR_CTP_BODY_TOO_LARGE":
      return new ClawError("payload_too_large", `The body is over the limit of ${maxBody ?? "the configured"} bytes.`);
    case "FST_ERR_CTP_INVALID_MEDIA_TYPE":
      return new ClawError("bad_request", "The body must be JSON, sent with content-type: application/json.");
    case "FST_ERR_CTP_EMPTY_JSON_BODY":
    case "FST_ERR_CTP_INVALID_JSON_BODY":
      return new ClawError("bad_request", "The body is not valid JSON.");
    case "FST_ERR_CTP_INVALID_CONTENT_LENGTH":
      return new ClawError("bad_request", "The body's length does not match its content-length.");
    case "FST_ERR_BAD_URL":
    case "FST_ERR_MAX_PARAM_LENGTH":
      return new ClawError("bad_request", "The request URL is malformed.");
  }
  if (typeof statusCode === "number" && statusCode >= 400 && statusCode < 500) {
    return new ClawError("bad_request", "The request is malformed.", { cause: error });
  }
  return toClawError(error);
}

/** A parser or socket error Node reports before a request exists ('clientError'); undefined when there is nobody left to answer. */
export function fromClientError(error: unknown): ClawError | undefined {
  const { code } = (error ?? {}) as FrameworkError;
  switch (code) {
    case "ECONNRESET":
    case "EPIPE":
      return undefined;
    case "ERR_HTTP_REQUEST_TIMEOUT":
      return new ClawError("slow_client", "The request did not arrive in time (headers_timeout / request_timeout).");
    case "HPE_HEADER_OVERFLOW":
      return new ClawError("payload_too_large", "The request headers are larger than the server accepts.");
    default:
      return new ClawError("bad_request", "The request is not valid HTTP/1.1.");
  }
}
