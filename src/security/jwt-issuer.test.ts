// Tokens from issueToken (secret and private keys, ttl parsing) and the `clawbot token issue` command, checked with the verifier.
import { generateKeyPairSync } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { Command, CommanderError } from "commander";
import { decodeJwt, decodeProtectedHeader } from "jose";
import { afterAll, afterEach, describe, expect, it, vi } from "vitest";
import { registerTokenCommand } from "../cli/token-command.js";
import type { JwtAuthConfig } from "../config/schema.js";
import { issueToken, parseTtl } from "./jwt-issuer.js";
import { createTokenVerifier } from "./jwt-verifier.js";

const secret = "0123456789abcdef0123456789abcdef-test-secret";
const directory = fs.mkdtempSync(path.join(os.tmpdir(), "clawbot-issuer-"));
afterAll(() => fs.rmSync(directory, { recursive: true, force: true }));

const rsa = generateKeyPairSync("rsa", { modulusLength: 2048 });
const ec = generateKeyPairSync("ec", { namedCurve: "P-256" });
const ed = generateKeyPairSync("ed25519");
const privatePem = (key: typeof rsa.privateKey) => key.export({ type: "pkcs8", format: "pem" }).toString();
for (const [name, pair] of Object.entries({ rsa, ec, ed })) {
  fs.writeFileSync(path.join(directory, `${name}.pem`), pair.publicKey.export({ type: "spki", format: "pem" }).toString());
  fs.writeFileSync(path.join(directory, `${name}.key`), privatePem(pair.privateKey));
}
const config = (overrides: Partial<JwtAuthConfig>): JwtAuthConfig => ({ type: "jwt", clock_tolerance: 30, ...overrides });

describe("parseTtl", () => {
  it("reads seconds, minutes, hours and days", () => {
    expect(parseTtl("3600s")).toBe(3600);
    expect(parseTtl("30m")).toBe(1800);
    expect(parseTtl("1h")).toBe(3600);
    expect(parseTtl("7d")).toBe(604800);
  });

  it("refuses anything else with a clear message", () => {
    for (const bad of ["", "1", "1y", "-5m", "0h", "1.5h", "h"]) expect(() => parseTtl(bad)).toThrow(/invalid ttl .*s, m, h or d/);
  });
});

describe("issueToken", () => {
  it("signs HS256 with a secret: sub, one role, iat, exp, aud, iss", async () => {
    const token = await issueToken({ secret, subject: "alice", roles: ["user"], ttl: "1h", audience: "clawbot", issuer: "me" });
    expect(decodeProtectedHeader(token)).toEqual({ alg: "HS256", typ: "JWT" });
    const claims = decodeJwt(token);
    expect(claims).toMatchObject({ sub: "alice", role: "user", aud: "clawbot", iss: "me" });
    expect(claims.roles).toBeUndefined();
    expect((claims.exp as number) - (claims.iat as number)).toBe(3600);
    const verifier = await createTokenVerifier(config({ secret, audience: "clawbot", issuer: "me" }), directory);
    expect(await verifier.verify(token)).toMatchObject({ subject: "alice", roles: ["user"] });
  });

  it("puts several roles in a roles array and honours an HMAC algorithm", async () => {
    const token = await issueToken({ secret, algorithm: "HS512", subject: "bob", roles: ["user", "admin"], ttl: "5m" });
    expect(decodeProtectedHeader(token).alg).toBe("HS512");
    expect(decodeJwt(token).roles).toEqual(["user", "admin"]);
    const verifier = await createTokenVerifier(config({ secret }), directory);
    expect((await verifier.verify(token)).roles).toEqual(["user", "admin"]);
  });

  it("infers RS256, ES256 and EdDSA from the private key and verifies with the public key", async () => {
    for (const [name, expected] of [["rsa", "RS256"], ["ec", "ES256"], ["ed", "EdDSA"]] as const) {
      const token = await issueToken({ privateKeyPem: fs.readFileSync(path.join(directory, `${name}.key`), "utf8"), subject: "carol", ttl: "10m" });
      expect(decodeProtectedHeader(token).alg).toBe(expected);
      const verifier = await createTokenVerifier(config({ public_key: `${name}.pem` }), directory);
      expect((await verifier.verify(token)).subject).toBe("carol");
    }
  });

  it("refuses a bad ttl, an algorithm that does not fit the key, and missing or double keys", async () => {
    await expect(issueToken({ secret, subject: "a", ttl: "soon" })).rejects.toThrow(/invalid ttl "soon"/);
    await expect(issueToken({ secret, algorithm: "RS256", subject: "a", ttl: "1h" })).rejects.toThrow(/RS256 does not fit/);
    await expect(issueToken({ secret, algorithm: "none", subject: "a", ttl: "1h" })).rejects.toThrow(/none does not fit/);
    await expect(issueToken({ subject: "a", ttl: "1h" })).rejects.toThrow(/exactly one/);
    await expect(issueToken({ secret, privateKeyPem: privatePem(rsa.privateKey), subject: "a", ttl: "1h" })).rejects.toThrow(/exactly one/);
    await expect(issueToken({ privateKeyPem: "junk", subject: "a", ttl: "1h" })).rejects.toThrow(/private key/);
  });
});

describe("clawbot token issue", () => {
  afterEach(() => vi.restoreAllMocks());

  /** Runs the command in-process; resolves to what it printed on stdout and stderr, or the CommanderError. */
  async function run(...args: string[]): Promise<{ stdout: string; stderr: string; error?: CommanderError }> {
    let stdout = "";
    let stderr = "";
    const program = new Command("clawbot").exitOverride().configureOutput({ writeOut: (text) => (stdout += text), writeErr: (text) => (stderr += text) });
    registerTokenCommand(program);
    vi.spyOn(process.stdout, "write").mockImplementation((chunk: string | Uint8Array) => ((stdout += String(chunk)), true));
    vi.spyOn(process.stderr, "write").mockImplementation((chunk: string | Uint8Array) => ((stderr += String(chunk)), true));
    try {
      await program.parseAsync(["node", "clawbot", "token", "issue", ...args]);
      return { stdout, stderr };
    } catch (error) {
      if (!(error instanceof CommanderError)) throw error;
      return { stdout, stderr, error };
    } finally {
      vi.restoreAllMocks();
    }
  }

  it("prints only the token and a newline for --secret", async () => {
    const result = await run("--secret", secret, "--sub", "alice", "--role", "user", "--ttl", "1h");
    expect(result.error).toBeUndefined();
    expect(result.stdout).toMatch(/^[\w-]+\.[\w-]+\.[\w-]+\n$/);
    const verifier = await createTokenVerifier(config({ secret }), directory);
    expect(await verifier.verify(result.stdout.trim())).toMatchObject({ subject: "alice", roles: ["user"] });
  });

  it("defaults to the user role and collects repeated --role", async () => {
    expect(decodeJwt((await run("--secret", secret, "--sub", "a")).stdout.trim()).role).toBe("user");
    expect(decodeJwt((await run("--secret", secret, "--sub", "a", "--role", "user", "--role", "admin")).stdout.trim()).roles).toEqual(["user", "admin"]);
  });

  it("exits with code 1 when --sub is missing", async () => {
    const result = await run("--secret", secret);
    expect(result.error?.exitCode).toBe(1);
    expect(result.stderr).toMatch(/--sub/);
    expect(result.stdout).toBe("");
  });

  it("exits with code 1 on a bad ttl or no key", async () => {
    const badTtl = await run("--secret", secret, "--sub", "a", "--ttl", "forever");
    expect(badTtl.error?.exitCode).toBe(1);
    expect(badTtl.stderr).toMatch(/invalid ttl/);
    const noKey = await run("--sub", "a");
    expect(noKey.error?.exitCode).toBe(1);
    expect(noKey.stderr).toMatch(/--config.*--secret.*--key/);
  });

  it("takes secret, audience, issuer and algorithms from the first jwt gateway in --config", async () => {
    const file = path.join(directory, "clawbot.yaml");
    fs.writeFileSync(
      file,
      [
        "gateways:",
        "  - type: websocket",
        "  - type: http",
        "    auth: { type: jwt, secret: " + secret + ", audience: clawbot, issuer: local, algorithms: [HS384] }",
      ].join("\n"),
    );
    const result = await run("--config", file, "--sub", "alice");
    expect(result.error).toBeUndefined();
    const token = result.stdout.trim();
    expect(decodeProtectedHeader(token).alg).toBe("HS384");
    const verifier = await createTokenVerifier(config({ secret, audience: "clawbot", issuer: "local", algorithms: ["HS384"] }), directory);
    expect((await verifier.verify(token)).subject).toBe("alice");
  });

  it("asks for --key when the gateway verifies with a public key, and signs with it", async () => {
    const file = path.join(directory, "public.yaml");
    fs.writeFileSync(file, "gateways:\n  - type: websocket\n    auth: { type: jwt, public_key: ec.pem, audience: clawbot }\n");
    const withoutKey = await run("--config", file, "--sub", "alice");
    expect(withoutKey.error?.exitCode).toBe(1);
    expect(withoutKey.stderr).toMatch(/--key/);
    const withKey = await run("--config", file, "--key", path.join(directory, "ec.key"), "--sub", "alice");
    const verifier = await createTokenVerifier(config({ public_key: "ec.pem", audience: "clawbot" }), directory);
    expect((await verifier.verify(withKey.stdout.trim())).subject).toBe("alice");
  });

  it("prints config errors", async () => {
    const result = await run("--config", path.join(directory, "absent.yaml"), "--sub", "alice");
    expect(result.error?.exitCode).toBe(1);
    expect(result.stderr).toMatch(/absent\.yaml: cannot read config/);
  });
});
