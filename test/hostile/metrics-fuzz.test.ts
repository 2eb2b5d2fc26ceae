// Fuzzes a real node's metrics listener (with a token) with raw requests: paths, methods, headers, broken framing, resets.
import net from "node:net";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { freePort } from "../helpers/cli-process.js";
import { expectHttpServed, isCoded, type HostileNode } from "../helpers/hostile-node.js";
import { buildRequest, rawRequest, type NoResponse, type RawResponse } from "../helpers/raw-http.js";
import { useHostileNode } from "./use-hostile-node.js";

const metricsToken = "metrics-fuzz-token-0123456789abcdef";
let node: HostileNode;
let metricsPort: number;

useHostileNode(
  async () => {
    metricsPort = await freePort();
    return { config: { metrics: { token: metricsToken } }, env: { CLAWBOT_METRICS_PORT: String(metricsPort) } };
  },
  (started) => (node = started),
);

const visible = fc.constantFrom(..."abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~!$&'()*+,;=:@/?#[]%\"<>\\^`{|}");

const pathArbitrary: fc.Arbitrary<string> = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.constantFrom(
      "/metrics", "/metrics?", "/metrics?name[]=x", "/metrics/", "//metrics", "/METRICS", "/metrics%00", "/metrics#x", "/%", "/%zz", "/",
      "*", "/../metrics", "/./metrics", "http://127.0.0.1/metrics", "http://[::1", "/metrics?%", "/healthz", "/v1/chat/completions",
    ),
  },
  { weight: 3, arbitrary: fc.tuple(fc.array(fc.string({ unit: visible, maxLength: 12 }), { maxLength: 6 })).map(([segments]) => `/${segments.join("/")}`) },
  { weight: 1, arbitrary: fc.integer({ min: 1000, max: 8000 }).map((length) => `/metrics?${"a".repeat(length)}`) },
);

const methodArbitrary = fc.oneof(
  { weight: 5, arbitrary: fc.constantFrom("GET", "HEAD") },
  { weight: 2, arbitrary: fc.constantFrom("POST", "PUT", "DELETE", "OPTIONS", "PATCH", "TRACE", "PROPFIND") },
);

const headersArbitrary: fc.Arbitrary<[string, string][]> = fc
  .record(
    {
      authorization: fc.oneof(
        { weight: 3, arbitrary: fc.constant(`Bearer ${metricsToken}`) },
        {
          weight: 3,
          arbitrary: fc.constantFrom("Bearer", "Bearer ", `bearer ${metricsToken}`, `Bearer ${metricsToken}x`, `Bearer  ${metricsToken}`, `Basic ${metricsToken}`, `Bearer ${metricsToken} ${metricsToken}`, "Bearer \u00ff"),
        },
        { weight: 2, arbitrary: fc.string({ unit: visible, maxLength: 80 }) },
        { weight: 1, arbitrary: fc.integer({ min: 1000, max: 12_000 }).map((length) => `Bearer ${"t".repeat(length)}`) },
      ),
      accept: fc.constantFrom("*/*", "text/plain", "application/openmetrics-text; version=1.0.0", "application/json"),
      extra: fc.array(fc.tuple(fc.stringMatching(/^[a-z][a-z0-9-]{0,15}$/), fc.string({ unit: visible, maxLength: 40 })), { maxLength: 4 }),
    },
    { requiredKeys: [] },
  )
  .map(({ extra, ...known }) => [
    ...Object.entries(known).filter((entry): entry is [string, string] => typeof entry[1] === "string"),
    ...(extra ?? []).filter(([name]) => !["host", "content-length", "connection", "transfer-encoding", "expect", "upgrade"].includes(name)),
  ]);

function parseJson(text: string): { error?: { code?: unknown } } | undefined {
  try {
    return JSON.parse(text) as { error?: { code?: unknown } };
  } catch {
    return undefined;
  }
}

/** What is wrong with the answer to one well-framed request, or undefined when it is what the listener promises. */
function problemWith(result: RawResponse | NoResponse, method: string, target: string, headers: [string, string][], size: number): string | undefined {
  if (result.kind !== "response") return `no response (${result.kind})`;
  // Node's header limit (16 KiB): a coded payload_too_large before any route.
  if (size > 16 * 1024 && result.status === 413) return undefined;
  const pathOnly = target.split("?", 1)[0];
  const authorized = headers.some(([name, value]) => name === "authorization" && /^bearer +(\S+) *$/i.exec(value)?.[1] === metricsToken);
  const expected = pathOnly !== "/metrics" ? 404 : method !== "GET" && method !== "HEAD" ? 405 : !authorized ? 401 : 200;
  // Node refuses some targets (absolute-form junk, "*") as bad requests before the handler.
  if (result.status === 400 && expected !== 200) return undefined;
  if (result.status !== expected) return `HTTP ${result.status}, expected ${expected}`;
  if (expected === 200) {
    if (!(result.headers["content-type"] ?? "").startsWith("text/plain")) return `content-type ${result.headers["content-type"]}`;
    return method === "HEAD" || result.body.toString("utf8").includes("clawbot_requests_running ") ? undefined : "no metrics in the body";
  }
  if (method === "HEAD") return undefined;
  if (expected === 401 && !result.headers["www-authenticate"]?.startsWith("Bearer")) return "401 without WWW-Authenticate";
  if (expected === 405 && result.headers.allow !== "GET, HEAD") return `405 with Allow ${result.headers.allow}`;
  const code = parseJson(result.body.toString("utf8"))?.error?.code;
  return isCoded(code) ? undefined : `HTTP ${result.status} without a coded body: ${result.body.toString("latin1").slice(0, 200)}`;
}

async function scrapeWorks(): Promise<void> {
  const response = await fetch(`http://127.0.0.1:${metricsPort}/metrics`, { headers: { authorization: `Bearer ${metricsToken}` } });
  expect(response.status).toBe(200);
  expect(await response.text()).toContain("clawbot_gateway_connected_clients");
}

describe("hostile clients of the metrics listener", () => {
  it("answers every generated path, method and header set as the listener promises (200, 401, 404, 405), and stays up", async () => {
    await fc.assert(
      fc.asyncProperty(methodArbitrary, pathArbitrary, headersArbitrary, async (method, target, headers) => {
        const request = buildRequest(method, target, headers);
        const result = await rawRequest(metricsPort, request, { head: method === "HEAD", timeoutMs: 10_000 });
        expect(problemWith(result, method, target, headers, request.length), `${method} ${target.slice(0, 200)} ${JSON.stringify(headers).slice(0, 300)}`).toBeUndefined();
        node.assertAlive(`after ${method} ${target}`);
      }),
      { numRuns: 500, endOnFailure: true },
    );
    await scrapeWorks();
    await expectHttpServed(node);
  });

  it("survives broken framing, oversized headers, random bytes and resets mid-request, answering what it parses with a coded error", async () => {
    const withHost = (raw: string) => raw.replace(/^([^\r\n]* HTTP\/1\.1\r\n)/, "$1host: 127.0.0.1\r\n");
    const raws = fc.oneof(
      fc.constantFrom(
        "GET /metrics HTTP/9.9\r\n\r\n", "GET /metrics\r\n\r\n", "GET  /metrics HTTP/1.1\r\n\r\n", "GET /me trics HTTP/1.1\r\n\r\n",
        "GET /metrics HTTP/1.1\r\nno colon\r\n\r\n", "GET /metrics HTTP/1.1\nhost: x\n\n", "\r\n\r\n\r\n",
        "GET /metrics HTTP/1.1\r\ncontent-length: 5\r\ncontent-length: 6\r\n\r\nhello!", "POST /metrics HTTP/1.1\r\ntransfer-encoding: chunked\r\n\r\nzz\r\n",
        "GET /metrics HTTP/1.1\r\nupgrade: websocket\r\nconnection: upgrade\r\n\r\n", "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", "CONNECT 127.0.0.1:80 HTTP/1.1\r\n\r\n",
      ).map(withHost),
      fc.integer({ min: 17_000, max: 60_000 }).map((length) => `GET /metrics HTTP/1.1\r\nhost: 127.0.0.1\r\nx-long: ${"b".repeat(length)}\r\n\r\n`),
      fc.string({ maxLength: 300 }),
      fc.uint8Array({ maxLength: 300 }).map((bytes) => Buffer.from(bytes).toString("latin1")),
    );
    await fc.assert(
      fc.asyncProperty(raws, fc.boolean(), async (raw, reset) => {
        if (reset) {
          // Half a request, then a reset.
          const socket = net.connect(metricsPort, "127.0.0.1");
          socket.on("error", () => undefined);
          await new Promise<void>((resolve) => socket.once("connect", () => resolve()));
          socket.write(Buffer.from(raw.slice(0, Math.ceil(raw.length / 2)), "latin1"));
          socket.resetAndDestroy();
        } else {
          const result = await rawRequest(metricsPort, Buffer.from(raw, "latin1"), { endAfterWrite: true, timeoutMs: 15_000 });
          if (result.kind === "response" && result.status >= 400) {
            const code = parseJson(result.body.toString("utf8"))?.error?.code;
            expect(isCoded(code), `HTTP ${result.status} to ${JSON.stringify(raw.slice(0, 120))} without a coded body`).toBe(true);
          }
        }
        expect(await node.stillAliveAfter(20), `the node exited after ${JSON.stringify(raw.slice(0, 200))}\n${node.cli.describe().slice(-3000)}`).toBe(true);
      }),
      { numRuns: 300, endOnFailure: true },
    );
    await scrapeWorks();
  });
});
