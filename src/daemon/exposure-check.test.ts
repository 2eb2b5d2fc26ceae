// The exposure check with TLS: TLS alone does not replace auth; required client certificates do; tokens in clear text are warned about.
import { describe, expect, it, vi } from "vitest";
import { configSchema } from "../config/schema.js";
import type { Logger } from "../logging/logger.js";
import { checkExposure } from "./exposure-check.js";

const tls = { cert: "server.pem", key: "server.key", ca: "ca.pem" };
const secret = "0123456789abcdef0123456789abcdef-exposure";

function check(gateway: Record<string, unknown>): string[] {
  const warnings: string[] = [];
  const logger = { warn: vi.fn((message: string) => warnings.push(message)) } as unknown as Logger;
  checkExposure(configSchema.parse({ gateways: [gateway] }), { insecureDev: false, logger });
  return warnings;
}

describe("checkExposure with tls", () => {
  it("refuses auth none on a public address with tls but no required client certificate", () => {
    expect(() => check({ type: "http", host: "0.0.0.0", tls })).toThrow(/auth disabled is refused \(tls alone does not authenticate clients/);
    expect(() => check({ type: "websocket", host: "0.0.0.0", tls: { ...tls, client_certificates: "optional" } })).toThrow(/auth disabled is refused/);
  });

  it("accepts auth none on a public address when every client must present a certificate", () => {
    expect(check({ type: "http", host: "0.0.0.0", tls: { ...tls, client_certificates: "require" } })).toEqual([]);
  });

  it("warns when bearer tokens would cross the network in clear text", () => {
    expect(check({ type: "http", host: "0.0.0.0", auth: { type: "jwt", secret } }).join("\n")).toMatch(/bearer tokens travel in clear text on 0\.0\.0\.0; configure tls/);
    expect(check({ type: "http", host: "0.0.0.0", auth: { type: "jwt", secret }, tls })).toEqual([]);
    expect(check({ type: "http", host: "127.0.0.1", auth: { type: "jwt", secret } })).toEqual([]);
  });

  it("refuses client_certificates without the CA that signs them", () => {
    expect(() => configSchema.parse({ gateways: [{ type: "http", tls: { cert: "a", key: "b", client_certificates: "require" } }] })).toThrow(/client_certificates needs ca/);
  });
});
