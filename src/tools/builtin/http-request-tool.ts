// The built-in `http_request` tool: one HTTP request to an allowed URL prefix, redirects reported and never followed, the body cut.
import type { ToolsConfig } from "../../config/tools-schema.js";
import type { NodeTool } from "../tool-types.js";
import { HttpAllowList, type HttpMethod } from "./http-allow-list.js";

/** Request headers the tool never sends from a model: they would re-route, re-frame or upgrade the request. */
const refusedHeaders = new Set(["host", "connection", "content-length", "transfer-encoding", "upgrade", "te", "trailer", "keep-alive", "expect", "proxy-authorization", "proxy-connection"]);

/** Headers one call may send, at most. */
const maxHeaders = 32;

/** Characters of a request body, at most. */
const maxBodyChars = 100_000;

/** Methods that change nothing: they never need approval, and carry no body. */
const readMethods: ReadonlySet<string> = new Set(["GET", "HEAD"]);

/**
 * The `http_request` tool of `tools.http_request`; undefined when it is off or allows no URL or no method. Only URLs under an
 * allowed prefix with a method allowed there; a redirect is answered with its Location, not followed; the body is cut
 * at `max_response_bytes`. With `confirm_writes`, every method but GET and HEAD needs the client's approval (a call the
 * allow list refuses is refused without asking).
 */
export function httpRequestTool(config: ToolsConfig["http_request"]): NodeTool | undefined {
  if (!config.enabled || config.allow.length === 0) return undefined;
  const allowList = new HttpAllowList(config.allow);
  const methods = allowList.methods();
  if (methods.length === 0) return undefined;
  const prefixes = config.allow.map((entry) => `${entry.prefix} (${entry.methods.join(", ")})`).join("; ");
  return {
    name: "http_request",
    description: `Sends one HTTP request and returns the status, content type and body text (cut at ${config.max_response_bytes} bytes). Allowed URL prefixes: ${prefixes}. Redirects are reported, not followed.`,
    parameters: {
      type: "object",
      // Within the subset constrained decoding enforces, where every listed property is generated: null for "none".
      properties: {
        url: { type: "string", minLength: 1, description: "The absolute URL, under one of the allowed prefixes." },
        method: { enum: methods },
        headers: { type: ["object", "null"], additionalProperties: { type: "string" }, description: "Request headers; null: none." },
        body: { type: ["string", "null"], description: "The request body (not with GET or HEAD); null: none." },
      },
      required: ["url", "method"],
      additionalProperties: false,
    },
    source: "builtin",
    // A call the allow list refuses never runs: the client is not asked to approve it.
    confirm: (args) => config.confirm_writes && !readMethods.has(String(args.method)) && allowList.check(String(args.url), args.method as HttpMethod).allowed,
    async run(args, context) {
      const method = args.method as HttpMethod;
      const decision = allowList.check(String(args.url), method);
      if (!decision.allowed) throw new Error(`${decision.reason}; the request was not sent.`);
      const given = Object.entries((args.headers ?? {}) as Record<string, string>);
      if (given.length > maxHeaders) throw new Error(`at most ${maxHeaders} headers may be sent; the request was not sent.`);
      const headers = new Headers();
      for (const [name, value] of given) {
        if (refusedHeaders.has(name.toLowerCase())) throw new Error(`the header "${name.slice(0, 100)}" may not be set; the request was not sent.`);
        try {
          headers.set(name, value);
        } catch {
          throw new Error(`the header "${name.slice(0, 100)}" is not a valid HTTP header; the request was not sent.`);
        }
      }
      const body = typeof args.body === "string" ? args.body : undefined;
      if (body !== undefined && body.length > maxBodyChars) throw new Error(`the body may take at most ${maxBodyChars} characters; the request was not sent.`);
      if (body !== undefined && readMethods.has(method)) throw new Error(`a ${method} request cannot have a body; the request was not sent.`);
      const response = await fetch(decision.url, { method, headers, body, redirect: "manual", signal: context.signal });
      const lines = [`status: ${response.status}`, `content-type: ${response.headers.get("content-type") ?? "none"}`];
      const location = response.headers.get("location");
      if (response.status >= 300 && response.status < 400 && location !== null) lines.push(`location: ${location} (the redirect was not followed)`);
      const text = method === "HEAD" ? { text: "", cut: false } : await readText(response, config.max_response_bytes);
      if (text.cut) lines.push(`[the body is cut at ${config.max_response_bytes} bytes]`);
      return `${lines.join("\n")}\n\n${text.text}`;
    },
  };
}

/** The body as UTF-8 text, at most `maxBytes` (a character split at the cut is left out); the rest is not read. */
async function readText(response: Response, maxBytes: number): Promise<{ text: string; cut: boolean }> {
  if (!response.body) return { text: "", cut: false };
  const reader = response.body.getReader();
  const decoder = new TextDecoder("utf-8");
  let text = "";
  let bytes = 0;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return { text: text + decoder.decode(), cut: false };
      const room = maxBytes - bytes;
      if (value.byteLength > room) {
        text += decoder.decode(value.subarray(0, room), { stream: true });
        return { text, cut: true };
      }
      bytes += value.byteLength;
      text += decoder.decode(value, { stream: true });
    }
  } finally {
    await reader.cancel().catch(() => undefined);
  }
}
