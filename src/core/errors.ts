// The one table of error codes a client can see, and the ClawError that carries them.

/** Every code a client can receive, with its HTTP status and WebSocket close code. */
export const errorTable = {
  bad_request: { status: 400, closeCode: 4400, description: "The request is malformed or misses a required field." },
  unauthorized: { status: 401, closeCode: 4401, description: "No valid token: missing, expired, not yet valid, wrong signature, audience or issuer." },
  forbidden: { status: 403, closeCode: 4403, description: "The token is valid but does not allow this action." },
  not_found: { status: 404, closeCode: 4404, description: "No such route or resource." },
  model_not_found: { status: 404, closeCode: 4404, description: "The request names a model this node does not serve: neither its model nor one of `agent.model_aliases`." },
  method_not_allowed: { status: 405, closeCode: 4405, description: "The route exists but does not take this HTTP method; the Allow header lists the ones it takes." },
  payload_too_large: { status: 413, closeCode: 1009, description: "The frame, body or headers are larger than the configured limit." },
  context_length_exceeded: { status: 400, closeCode: 4400, description: "The prompt does not fit in the model's context." },
  overloaded: { status: 429, closeCode: 4429, description: "All sequences are busy and the admission queue is full; retry later." },
  rate_limited: { status: 429, closeCode: 4429, description: "A limit of the caller's role in the security policy (requests or tokens per minute, concurrent requests) is reached; retry after `retry_after` seconds (HTTP: the Retry-After header)." },
  cancelled: { status: 499, closeCode: 4499, description: "The request was cancelled by the client or by shutdown." },
  unavailable: { status: 503, closeCode: 1013, description: "The node is starting or shutting down and cannot take requests, or (in a cluster) NATS cannot be reached or no worker took the request in time." },
  worker_lost: { status: 503, closeCode: 1013, description: "In a cluster, every worker the request was tried on (cluster.max_deliver) stopped answering mid-generation; retry." },
  plugin_error: { status: 500, closeCode: 1011, description: "A plugin hook threw, timed out or returned something invalid; the message names the plugin." },
  slow_client: { status: 408, closeCode: 4408, description: "The client was too slow: it did not read its answer (buffer above the limit past the timeout) or did not send its request in time." },
  storage_error: { status: 500, closeCode: 1011, description: "The node's database failed (disk full, corrupt, read-only); the message says what failed." },
  secure_link_failed: { status: 400, closeCode: 4460, description: "The encrypted (SM) link failed: a bad or missing handshake, a server key other than the pinned one, or a sealed frame altered, replayed, reordered or not sealed; the connection closes." },
  internal: { status: 500, closeCode: 1011, description: "An unexpected failure inside Clawbot; the log has details." },
} as const satisfies Record<string, { status: number; closeCode: number; description: string }>;

export type ErrorCode = keyof typeof errorTable;

export class ClawError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  /** The request field the error is about (OpenAI's `param`, e.g. "tools" or "messages[0].content[1]"), when one is. */
  readonly param: string | undefined;
  /** Whole seconds after which a retry can succeed (`rate_limited`): HTTP's Retry-After header, frames' `retry_after`. */
  readonly retryAfter: number | undefined;

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown; param?: string; retryAfter?: number }) {
    super(message, options);
    this.name = "ClawError";
    this.code = code;
    this.status = errorTable[code].status;
    this.param = options?.param;
    this.retryAfter = options?.retryAfter;
  }
}

/** Turns anything thrown into a ClawError, keeping the original as the cause. */
export function toClawError(error: unknown): ClawError {
  if (error instanceof ClawError) return error;
  if (error instanceof Error && error.name === "AbortError") return new ClawError("cancelled", "The request was cancelled.", { cause: error });
  return new ClawError("internal", "Internal error.", { cause: error });
}

export function isErrorCode(value: string): value is ErrorCode {
  return Object.hasOwn(errorTable, value);
}
