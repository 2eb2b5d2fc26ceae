// Fuzzes GET /admin/status and the console's page on a real node: query strings, methods, headers and tokens; coded 4xx, and the node keeps answering.
import fc from "fast-check";
import { SignJWT } from "jose";
import { describe, expect, it } from "vitest";
import { expectHttpServed, expectWebsocketServed, isCoded, type HostileNode } from "../helpers/hostile-node.js";
import { buildRequest, rawRequest, type NoResponse, type RawResponse } from "../helpers/raw-http.js";
import { tokenArbitrary, type TokenSet } from "./hostile-inputs.js";
import { useHostileNode } from "./use-hostile-node.js";

let node: HostileNode;
let tokens: TokenSet;
let adminTokens: { admin: string; adminExpired: string; adminOtherKey: string };

useHostileNode(
  () => ({}),
  (started, startedTokens) => {
    [node, tokens] = [started, startedTokens];
    adminTokens = undefined as never;
  },
);

async function adminSet(): Promise<typeof adminTokens> {
  if (adminTokens) return adminTokens;
  const now = Math.floor(Date.now() / 1000);
  const sign = (claims: Record<string, unknown>, key: string) =>
    new SignJWT({ scope: "openid admin", ...claims }).setProtectedHeader({ alg: "HS256" }).setSubject("fuzz-admin").sign(new TextEncoder().encode(key));
  adminTokens = {
    admin: await sign({ iat: now, exp: now + 3600 }, node.secret),
    adminExpired: await sign({ iat: now - 7200, exp: now - 3600 }, node.secret),
    adminOtherKey: await sign({ iat: now, exp: now + 3600 }, "another-secret-0123456789-abcdefghijkl"),
  };
  return adminTokens;
}

const queryUnit = fc.constantFrom(..."abcxyz019=&;%+?#[]{}<>\"'\\/.,:~!$*()@ ");

/** What follows /admin/status: nothing, a query (some that parse to nothing), near-miss paths. */
const suffixArbitrary = fc.oneof(
  { weight: 3, arbitrary: fc.constant("") },
  { weight: 3, arbitrary: fc.string({ unit: queryUnit, maxLength: 40 }).map((query) => `?${query.replaceAll("#", "%23").replaceAll(" ", "%20")}`) },
  { weight: 2, arbitrary: fc.constantFrom("?", "?&", "?limit=1", "?x", "?x[]=1&x[]=2", "?__proto__=1", "?constructor[prototype][x]=1", "?%", "?%zz=1", "?a=%E0%A4%A", `?${"q".repeat(5000)}=1`) },
  { weight: 1, arbitrary: fc.constantFrom("/", "//", "%00", ".json", "/../status", "/x") },
);

const methodArbitrary = fc.oneof(
  { weight: 5, arbitrary: fc.constantFrom("GET", "HEAD") },
  { weight: 2, arbitrary: fc.constantFrom("POST", "PUT", "DELETE", "OPTIONS", "PATCH", "TRACE") },
);

type Credential = { kind: "admin" | "user" | "refused" | "none"; header?: string };

function credentialArbitrary(): fc.Arbitrary<Credential> {
  return fc.oneof(
    { weight: 4, arbitrary: fc.constant({ kind: "admin", header: `Bearer ${adminTokens.admin}` } as Credential) },
    { weight: 2, arbitrary: fc.constant({ kind: "user", header: `Bearer ${tokens.valid}` } as Credential) },
    { weight: 2, arbitrary: fc.constantFrom(adminTokens.adminExpired, adminTokens.adminOtherKey, `${adminTokens.admin}x`).map((token): Credential => ({ kind: "refused", header: `Bearer ${token}` })) },
    // Any other token or junk: refused unless it happens to be the fuzzer's valid (non-admin) one.
    { weight: 2, arbitrary: tokenArbitrary(tokens).filter((token) => token.length < 8000).map((token): Credential => ({ kind: token === tokens.valid ? "user" : "refused", header: `Bearer ${token}` })) },
    { weight: 1, arbitrary: fc.constantFrom("Basic YWRtaW46YWRtaW4=", "Bearer", "bearer  ", `Bearer ${"a".repeat(300)}`).map((header): Credential => ({ kind: "refused", header })) },
    { weight: 1, arbitrary: fc.constant({ kind: "none" } as Credential) },
  );
}

const extraHeaders = fc.array(
  fc.tuple(
    fc.constantFrom("content-type", "accept", "x-forwarded-for", "cookie", "if-none-match", "origin", "x-http-method-override", "content-encoding"),
    fc.string({ unit: fc.constantFrom(..."abc/;=*,. 019"), maxLength: 30 }),
  ),
  { maxLength: 3 },
);

function parsed(result: RawResponse): { error?: { code?: unknown }; node?: { id?: unknown } } | undefined {
  try {
    return JSON.parse(result.body.toString("utf8")) as { error?: { code?: unknown }; node?: { id?: unknown } };
  } catch {
    return undefined;
  }
}

/** Whether a query string gives the route any parameter (a piece between "&"s that is not empty). */
function hasQueryKeys(suffix: string): boolean {
  return suffix.startsWith("?") && suffix.slice(1).split("&").some((piece) => piece.length > 0);
}

/** What is wrong with the answer, or undefined when it is what the route promises. */
function problemWith(result: RawResponse | NoResponse, method: string, suffix: string, credential: Credential): string | undefined {
  if (result.kind !== "response") return `no response (${result.kind})`;
  const body = parsed(result);
  const exact = suffix === "" || suffix.startsWith("?");
  if (exact && (method === "GET" || method === "HEAD")) {
    const expected = credential.kind === "none" || credential.kind === "refused" ? 401 : credential.kind === "user" ? 403 : hasQueryKeys(suffix) ? 400 : 200;
    // Node's own URL and header limits may answer first for a huge target.
    const limited = suffix.length > 4000 && [400, 414, 431].includes(result.status) && expected !== 200;
    if (result.status !== expected && !limited) return `HTTP ${result.status}, expected ${expected}`;
    if (expected === 200) return method === "HEAD" || typeof body?.node?.id === "string" ? undefined : "200 without node.id";
  } else if (result.status < 400 || result.status >= 500) {
    return `HTTP ${result.status} for ${method} /admin/status${suffix}`;
  }
  if (method === "HEAD") return undefined;
  return isCoded(body?.error?.code) ? undefined : `HTTP ${result.status} without a coded body: ${result.body.toString("latin1").slice(0, 200)}`;
}

describe("hostile clients of GET /admin/status", () => {
  it("answers every generated method, query, header set and token with 200 or a coded 4xx, and stays up", async () => {
    await adminSet();
    await fc.assert(
      fc.asyncProperty(methodArbitrary, suffixArbitrary, credentialArbitrary(), extraHeaders, async (method, suffix, credential, extra) => {
        const headers: [string, string][] = [...(credential.header ? [["authorization", credential.header] as [string, string]] : []), ...extra];
        const result = await rawRequest(node.port, buildRequest(method, `/admin/status${suffix}`, headers), { head: method === "HEAD", timeoutMs: 10_000 });
        expect(problemWith(result, method, suffix, credential), `${method} /admin/status${suffix.slice(0, 100)} ${credential.kind} ${JSON.stringify(extra)}`).toBeUndefined();
        node.assertAlive(`after ${method} /admin/status${suffix.slice(0, 100)}`);
      }),
      { numRuns: 300, endOnFailure: true },
    );
    const response = await fetch(`${node.httpUrl}/admin/status`, { headers: { authorization: `Bearer ${adminTokens.admin}` } });
    expect(response.status).toBe(200);
    await expectHttpServed(node);
    await expectWebsocketServed(node);
  });

  it("serves the console page with its CSP whatever the query, and its files only by exact name", async () => {
    for (const target of ["/console", "/console?x=<script>", "/console/", "/web/console/console.js", "/web/console/../../package.json", "/web/console/%2e%2e/x", "/web/console/nope.js"]) {
      const result = await rawRequest(node.port, buildRequest("GET", target, []), { timeoutMs: 10_000 });
      expect(result.kind, target).toBe("response");
      const response = result as RawResponse;
      if (response.status === 200) {
        expect(["/console", "/console?x=<script>", "/web/console/console.js"], target).toContain(target);
        expect(response.headers["content-security-policy"], target).toContain("script-src 'self'");
      } else {
        expect(response.status, target).toBeGreaterThanOrEqual(400);
        expect(response.status, target).toBeLessThan(500);
      }
    }
    await expectHttpServed(node);
  });
});
