// Tests for the http_request allow list: parsed-URL comparison, segment boundaries, `..`, user info, encoded separators, methods.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { HttpAllowList } from "./http-allow-list.js";

const list = new HttpAllowList([
  { prefix: "http://127.0.0.1:8080/admin/", methods: ["GET"] },
  { prefix: "https://api.example.com/v1", methods: ["GET", "POST"] },
]);

const allowed = (url: string, method: "GET" | "POST" | "DELETE" = "GET") => list.check(url, method).allowed;
const reason = (url: string, method: "GET" | "POST" | "DELETE" = "GET") => {
  const decision = list.check(url, method);
  return decision.allowed ? "allowed" : decision.reason;
};

describe("HttpAllowList", () => {
  it("allows paths under a prefix on segment boundaries only", () => {
    expect(allowed("http://127.0.0.1:8080/admin/users?x=1")).toBe(true);
    expect(allowed("http://127.0.0.1:8080/admin/")).toBe(true);
    expect(reason("http://127.0.0.1:8080/adminx")).toMatch(/not under an allowed URL prefix/);
    expect(allowed("http://127.0.0.1:8080/admin")).toBe(false);
    // A prefix without a trailing slash: itself and below, not a longer name.
    expect(allowed("https://api.example.com/v1")).toBe(true);
    expect(allowed("https://api.example.com/v1/items")).toBe(true);
    expect(allowed("https://api.example.com/v10")).toBe(false);
  });

  it("compares scheme, host and port as parsed (default ports, host case), never as text", () => {
    expect(allowed("HTTPS://API.EXAMPLE.COM:443/v1/x")).toBe(true);
    expect(allowed("http://api.example.com/v1/x")).toBe(false);
    expect(allowed("https://api.example.com:8443/v1/x")).toBe(false);
    expect(allowed("http://127.0.0.1:8081/admin/x")).toBe(false);
    expect(allowed("http://127.0.0.1:8080.evil.com/admin/x")).toBe(false);
    expect(allowed("https://api.example.com.evil.com/v1/x")).toBe(false);
  });

  it("resolves . and .. (also percent-encoded) before comparing, and refuses encoded separators", () => {
    expect(allowed("http://127.0.0.1:8080/admin/../secret")).toBe(false);
    expect(allowed("http://127.0.0.1:8080/admin/%2e%2E/secret")).toBe(false);
    expect(allowed("http://127.0.0.1:8080/admin/./x/../y")).toBe(true);
    expect(allowed("http://127.0.0.1:8080/other/../admin/y")).toBe(true);
    expect(reason("http://127.0.0.1:8080/admin/..%2fsecret")).toMatch(/encoded slash/);
    expect(reason("http://127.0.0.1:8080/admin/..%5Csecret")).toMatch(/encoded slash/);
    expect(allowed("http://127.0.0.1:8080/admin\\..\\secret")).toBe(false);
  });

  it("refuses user info, other schemes and what is not a URL", () => {
    expect(reason("http://127.0.0.1:8080@evil.com/admin/x")).toMatch(/user name or password/);
    expect(reason("http://user:pass@127.0.0.1:8080/admin/x")).toMatch(/user name or password/);
    expect(reason("file:///etc/passwd")).toMatch(/scheme file:/);
    expect(reason("/admin/x")).toMatch(/not an absolute URL/);
  });

  it("allows only the prefix's methods, and lists every method allowed anywhere", () => {
    expect(reason("http://127.0.0.1:8080/admin/x", "POST")).toMatch(/method POST is not allowed .*allowed: GET/);
    expect(allowed("https://api.example.com/v1/x", "POST")).toBe(true);
    expect(allowed("https://api.example.com/v1/x", "DELETE")).toBe(false);
    expect(list.methods()).toEqual(["GET", "POST"]);
  });

  it("drops the fragment from the URL it allows", () => {
    const decision = list.check("http://127.0.0.1:8080/admin/x#frag", "GET");
    expect(decision.allowed && decision.url.href).toBe("http://127.0.0.1:8080/admin/x");
  });

  it("refuses a prefix with user info or a non-HTTP scheme at start", () => {
    expect(() => new HttpAllowList([{ prefix: "ftp://example.com/", methods: ["GET"] }])).toThrow(/not an http or https URL/);
    expect(() => new HttpAllowList([{ prefix: "http://a:b@example.com/", methods: ["GET"] }])).toThrow(/user name or password/);
  });

  it("whatever follows the host, an allowed URL goes to the allowed host and port under the allowed path", () => {
    const piece = fc.constantFrom("admin", "adminx", "..", ".", "%2e%2e", "%2E.", "%2f", "%5c", "\\", "/", "@", ":", "?", "#", "a", "%00", "evil.com", "127.0.0.1:8080");
    fc.assert(
      fc.property(fc.array(piece, { maxLength: 10 }), (pieces) => {
        const target = `http://127.0.0.1:8080/${pieces.join("")}`;
        const decision = list.check(target, "GET");
        if (!decision.allowed) return;
        expect(decision.url.host).toBe("127.0.0.1:8080");
        expect(decision.url.pathname.startsWith("/admin/")).toBe(true);
        expect(decision.url.pathname).not.toMatch(/(^|\/)\.\.?(\/|$)/);
      }),
      { numRuns: 2000 },
    );
  });
});
