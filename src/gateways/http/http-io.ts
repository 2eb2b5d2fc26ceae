// Reading bounded JSON bodies and writing JSON and OpenAI-shaped errors.
import type http from "node:http";
import { ClawError } from "../../core/errors.js";
import type { Usage } from "../../core/types.js";

export async function readJsonBody(request: http.IncomingMessage, maxBytes: number): Promise<unknown> {
  const declared = Number(request.headers["content-length"] ?? "0");
  if (declared > maxBytes) throw new ClawError("payload_too_large", `The body is ${declared} bytes; the limit is ${maxBytes}.`);
  const chunks: Buffer[] = [];
  let received = 0;
  for await (const chunk of request) {
    received += (chunk as Buffer).length;
    if (received > maxBytes) throw new ClawError("payload_too_large", `The body is over the limit of ${maxBytes} bytes.`);
    chunks.push(chunk as Buffer);
  }
  try {
    return JSON.parse(Buffer.concat(chunks).toString("utf8"));
  } catch {
    throw new ClawError("bad_request", "The body is not valid JSON.");
  }
}

export function sendJson(response: http.ServerResponse, status: number, body: unknown): void {
  if (response.headersSent) {
    response.end();
    return;
  }
  const text = JSON.stringify(body);
  response.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(text) });
  response.end(text);
}

/** OpenAI's error shape, with our code. */
export function openAiError(error: ClawError): { error: { message: string; type: string; param: null; code: string } } {
  const type = error.status === 401 ? "authentication_error" : error.status >= 500 ? "server_error" : "invalid_request_error";
  return { error: { message: error.message, type, param: null, code: error.code } };
}

export function sendError(response: http.ServerResponse, error: ClawError): void {
  if (error.code === "payload_too_large") response.setHeader("connection", "close");
  if (error.code === "overloaded") response.setHeader("retry-after", "1");
  sendJson(response, error.status, openAiError(error));
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
