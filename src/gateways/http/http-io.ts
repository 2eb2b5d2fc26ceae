// Writing JSON and OpenAI-shaped errors, on a fastify reply or on the raw response (SSE) or socket.
import http from "node:http";
import type { FastifyReply } from "fastify";
import type { ClawError } from "../../core/errors.js";
import type { Usage } from "../../core/types.js";

export function sendJson(response: http.ServerResponse, status: number, body: unknown): void {
  if (response.headersSent) {
    response.end();
    return;
  }
  const text = JSON.stringify(body);
  response.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(text) });
  response.end(text);
}

/** The same bytes as sendJson, through fastify (which adds content-length; a Buffer keeps it from adding a charset). */
export function replyJson(reply: FastifyReply, status: number, body: unknown): void {
  void reply.code(status).header("content-type", "application/json").send(Buffer.from(JSON.stringify(body)));
}

/** OpenAI's error shape, with our code; `param` names the request field the error is about, when there is one. */
export function openAiError(error: ClawError): { error: { message: string; type: string; param: string | null; code: string } } {
  const type = error.status === 401 ? "authentication_error" : error.status >= 500 ? "server_error" : "invalid_request_error";
  return { error: { message: error.message, type, param: error.param ?? null, code: error.code } };
}

/** Headers an error brings: a body over the limit ends the connection (its rest is not read); overloaded and rate_limited say when to retry. */
export function errorHeaders(error: ClawError): Record<string, string> {
  if (error.code === "payload_too_large") return { connection: "close" };
  if (error.code === "overloaded") return { "retry-after": "1" };
  if (error.retryAfter !== undefined) return { "retry-after": String(error.retryAfter) };
  return {};
}

export function sendError(response: http.ServerResponse, error: ClawError): void {
  if (!response.headersSent) for (const [name, value] of Object.entries(errorHeaders(error))) response.setHeader(name, value);
  sendJson(response, error.status, openAiError(error));
}

export function replyError(reply: FastifyReply, error: ClawError): void {
  if (reply.sent || reply.raw.headersSent) {
    reply.raw.end();
    return;
  }
  reply.headers(errorHeaders(error));
  replyJson(reply, error.status, openAiError(error));
}

/** A whole HTTP/1.1 error response for a socket that has no ServerResponse (parser errors, refused connections); it closes the connection. */
export function rawErrorResponse(error: ClawError, headers: Record<string, string> = {}): string {
  const body = JSON.stringify(openAiError(error));
  const lines = [
    `HTTP/1.1 ${error.status} ${http.STATUS_CODES[error.status] ?? "Error"}`,
    "content-type: application/json",
    `content-length: ${Buffer.byteLength(body)}`,
    ...Object.entries({ ...errorHeaders(error), ...headers, connection: "close" }).map(([name, value]) => `${name}: ${value}`),
  ];
  return `${lines.join("\r\n")}\r\n\r\n${body}`;
}

/** OpenAI's usage object; cached_tokens counts prompt tokens found already evaluated. */
export function openAiUsage(usage: Usage) {
  return {
    prompt_tokens: usage.promptTokens,
    completion_tokens: usage.completionTokens,
    total_tokens: usage.promptTokens + usage.completionTokens,
    prompt_tokens_details: { cached_tokens: usage.cachedPromptTokens ?? 0 },
  };
}
