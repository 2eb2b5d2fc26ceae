// Fuzzes the web chat's and console's routes of a real node with raw requests: paths, traversal, odd Host headers, If-None-Match, methods.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { freePort } from "../helpers/cli-process.js";
import { expectHttpServed, isCoded, type HostileNode } from "../helpers/hostile-node.js";
import { rawRequest, type NoResponse, type RawResponse } from "../helpers/raw-http.js";
import { useHostileNode } from "./use-hostile-node.js";

let node: HostileNode;
let otherPort = 0;

// A second WebSocket gateway on another port: the pages' CSP then names it with the Host header's host name.
useHostileNode(
  async () => {
    otherPort = await freePort();
    return { gateways: [{ type: "websocket", port: otherPort, auth: { type: "jwt", secret: "${secret}" } }] };
  },
  (started) => (node = started),
);

const visible = fc.constantFrom(..."abcxyzABC019-._~!$&'()*+,;=:@/?#[]%\"<>\\^`{|} ");

/** Request targets under / and /web/: the real files, traversal in every spelling, NUL, very long, unicode. */
const pathArbitrary: fc.Arbitrary<string> = fc.oneof(
  {
    weight: 3,
    arbitrary: fc.constantFrom(
      "/", "/console", "/console/", "/web", "/web/", "/web/chat", "/web/chat/", "/web/chat/index.html", "/web/chat/chat.js",
      "/web/chat/chat.css", "/web/console/index.html", "/web/config.json", "/web/vendor/markdown-it.mjs", "/web/vendor/",
      "/web/../package.json", "/web/chat/../../package.json", "/web/%2e%2e/package.json", "/web/%2e%2e%2fpackage.json",
      "/web/%2E%2E%2F%2E%2E%2Fetc%2Fpasswd", "/web/..%2f..%2f..%2fetc%2fpasswd", "/web/chat/%2e%2e/%2e%2e/src/index.ts",
      "/web/chat/index.html%00", "/web/chat/index.html%00.png", "/web/%00", "/web/chat%00/chat.js", "/web//chat//chat.js",
      "/web/./chat/chat.js", "/web/chat/./chat.js", "/web\\chat\\chat.js", "/web/%5c..%5c..%5cpackage.json", "/web/chat/CHAT.JS",
      "/web/chat/chat.js?x=%", "/web/chat/chat.js#x", "/web/chat/chat.js/", "/web/.git/config", "/web/.hidden", "/web/chat/.env",
      "/web/%C0%AE%C0%AE/package.json", "/web/%E2%80%AE", "/web/chat/%F0%9F%98%80.js", "/?token=abc", "/#token=abc", "/console?x=1",
      "/web/config.json?callback=x", "/web/config.json/", "//web/chat/chat.js", "/%77eb/chat/chat.js",
    ),
  },
  {
    weight: 3,
    arbitrary: fc
      .tuple(
        fc.array(fc.oneof(fc.constantFrom("chat", "console", "vendor", "..", ".", "", "%2e%2e", "%2f", "%00", "index.html", "chat.js", "config.json"), fc.string({ unit: visible, maxLength: 10 })), { maxLength: 6 }),
        fc.option(fc.string({ unit: visible, maxLength: 20 })),
      )
      .map(([segments, query]) => `/web/${segments.join("/").replaceAll(" ", "%20").replaceAll("#", "%23")}${query === null ? "" : `?${query.replaceAll(" ", "+").replaceAll("#", "")}`}`),
  },
  // Unicode names, percent-encoded as browsers send them.
  { weight: 2, arbitrary: fc.string({ unit: "grapheme", minLength: 1, maxLength: 12 }).map((name) => `/web/chat/${encodeURIComponent(name)}`) },
  { weight: 1, arbitrary: fc.integer({ min: 1000, max: 8000 }).map((length) => `/web/${"a".repeat(length)}`) },
  { weight: 1, arbitrary: fc.integer({ min: 50, max: 1000 }).map((count) => `/web/${"../".repeat(count)}etc/passwd`) },
);

const methodArbitrary = fc.constantFrom("GET", "GET", "GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS");

/** Host headers: names, addresses, ports, and what must never reach the CSP header (separators, quotes, controls, long). */
const hostArbitrary: fc.Arbitrary<string> = fc.oneof(
  {
    weight: 3,
    arbitrary: fc.constantFrom(
      "127.0.0.1", "localhost:8080", "[::1]:80", "[::1]", "example.com", "a.b.c.d.e.f", "", " ", "evil.com; script-src *",
      "evil.com:99999", "x:y:z", "[::1", "::1", "exa mple.com", "host'self'", "h\"ost", "a,b", "*", "ws://x", "x/../y",
      "xn--fsqu00a.xn--0zwm56d", "_under_score", "-leading", "a..b", "%2e%2e", "1.2.3.4:0",
    ),
  },
  { weight: 2, arbitrary: fc.string({ unit: visible, maxLength: 40 }) },
  { weight: 1, arbitrary: fc.integer({ min: 300, max: 4000 }).map((length) => "h".repeat(length)) },
);

const ifNoneMatchArbitrary = fc.option(
  fc.oneof(fc.constantFrom('"x"', "*", "W/\"abc\"", '""', ",,,", '"a", "b"'), fc.string({ unit: visible, maxLength: 60 })),
  { nil: undefined },
);

/**
 * A request with our own Host header, and a zero-length body for methods that take one. (Always a Host header: without
 * one Node itself answers an uncoded 400 before any route runs — a finding for http-listeners.ts, not the web routes.)
 */
function request(method: string, target: string, host: string, ifNoneMatch: string | undefined): Buffer {
  const lines = [`${method} ${target} HTTP/1.1`, `host: ${host}`];
  if (ifNoneMatch !== undefined) lines.push(`if-none-match: ${ifNoneMatch}`);
  if (method === "POST" || method === "PUT") lines.push("content-length: 0");
  lines.push("connection: close");
  return Buffer.from(`${lines.join("\r\n")}\r\n\r\n`, "latin1");
}

const directive = /^[a-z-]+(?: (?:'self'|'none'|data:|wss?:\/\/(?:\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):\d{1,5}))*$/;

/** Why a response is not a page, a file, the config, a 304, or a coded error (or the CSP is not well-formed), else undefined. */
function responseProblem(result: RawResponse | NoResponse, head: boolean): string | undefined {
  if (result.kind !== "response") return `no response (${result.kind})`;
  const { status, headers, body } = result;
  if (status >= 500) return `HTTP ${status}`;
  const text = body.toString("utf8");
  if (status >= 400) {
    if (head) return undefined;
    const code = parseJson(text)?.error?.code;
    return isCoded(code) ? undefined : `HTTP ${status} without a code from errors.ts: ${JSON.stringify(text.slice(0, 200))}`;
  }
  if (status !== 200 && status !== 304) return `unexpected HTTP ${status}`;
  const policy = headers["content-security-policy"];
  if (!policy) return `HTTP ${status} without a Content-Security-Policy`;
  const bad = policy.split("; ").find((part) => !directive.test(part));
  if (bad !== undefined) return `a malformed CSP directive ${JSON.stringify(bad)} in ${JSON.stringify(policy)}`;
  if (!policy.includes("script-src 'self'") || !policy.includes("default-src 'none'")) return `a weakened CSP: ${policy}`;
  if (headers["x-frame-options"] !== "DENY" || headers["x-content-type-options"] !== "nosniff") return "the page's security headers are missing";
  if (status === 304 || head) return undefined;
  // Nothing from outside web/ (the package manifest, the sources, system files) is ever served.
  if (/"devDependencies"|root:x:0:0|import .* from "\.\.\//.test(text) && !(headers["content-type"] ?? "").startsWith("text/javascript")) {
    return `a file from outside web/: ${JSON.stringify(text.slice(0, 200))}`;
  }
  return undefined;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
function parseJson(text: string): any {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

async function check(bytes: Buffer, head: boolean): Promise<string | undefined> {
  node.assertAlive("before the request");
  const result = await rawRequest(node.port, bytes, { head, timeoutMs: 15_000 });
  if (!(await node.stillAliveAfter(result.kind === "response" ? 0 : 500))) return `the node exited after this request\n${node.cli.describe().slice(-3000)}`;
  return responseProblem(result, head);
}

describe("hostile clients of the web chat and console routes", () => {
  it("answers every generated path, method, Host and If-None-Match with a page, a file, a 304 or a coded error", async () => {
    await fc.assert(
      fc.asyncProperty(methodArbitrary, pathArbitrary, hostArbitrary, ifNoneMatchArbitrary, async (method, target, host, ifNoneMatch) => {
        const problem = await check(request(method, target, host, ifNoneMatch), method === "HEAD");
        expect(problem, `${method} ${target} host=${JSON.stringify(host)} if-none-match=${JSON.stringify(ifNoneMatch)}`).toBeUndefined();
      }),
      { numRuns: 1500, endOnFailure: true, examples: [["GET", "/web/../package.json", "127.0.0.1", undefined], ["POST", "/", "127.0.0.1", undefined]] },
    );
    await expectHttpServed(node);
  });

  it("serves the pages, answers a matching ETag with 304, and refuses other methods on them", async () => {
    const page = await rawRequest(node.port, request("GET", "/", "localhost", undefined));
    expect(page).toMatchObject({ kind: "response", status: 200 });
    const { headers, body } = page as RawResponse;
    expect(headers["content-type"]).toMatch(/^text\/html/);
    expect(body.toString("utf8")).toContain('data-testid="message-input"');
    // The other WebSocket port is named with the page's host name; the Host header's own port is not.
    expect(headers["content-security-policy"]).toContain(`connect-src 'self' ws://localhost:${otherPort}`);
    const cached = await rawRequest(node.port, request("GET", "/", "localhost", headers.etag));
    expect(cached).toMatchObject({ kind: "response", status: 304 });
    for (const method of ["POST", "PUT", "DELETE"]) {
      const refused = (await rawRequest(node.port, request(method, "/", "localhost", undefined))) as RawResponse;
      expect([404, 405]).toContain(refused.status);
      expect(isCoded(parseJson(refused.body.toString("utf8"))?.error?.code)).toBe(true);
    }
    const injected = (await rawRequest(node.port, request("GET", "/", "evil.com; script-src *", undefined))) as RawResponse;
    expect(injected.headers["content-security-policy"]).not.toContain("evil");
    const healthz = await fetch(`${node.httpUrl}/healthz`);
    expect(healthz.status).toBe(200);
  });
});
