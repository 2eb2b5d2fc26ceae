// Attacks on the JWT verifier (alg none, HS/RS confusion, expiry, aud/iss, tampering, wrong keys) and the keys it accepts.
import { generateKeyPairSync, type KeyObject } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { SignJWT, type JWTPayload } from "jose";
import { afterAll, describe, expect, it } from "vitest";
import type { JwtAuthConfig } from "../config/schema.js";
import { ClawError } from "../core/errors.js";
import { createTokenVerifier, weakSecretReason } from "./jwt-verifier.js";

const secret = "0123456789abcdef0123456789abcdef-test-secret";
const directory = fs.mkdtempSync(path.join(os.tmpdir(), "clawbot-jwt-"));
afterAll(() => fs.rmSync(directory, { recursive: true, force: true }));

const rsa = generateKeyPairSync("rsa", { modulusLength: 2048 });
const otherRsa = generateKeyPairSync("rsa", { modulusLength: 2048 });
const ec = generateKeyPairSync("ec", { namedCurve: "P-256" });
const ed = generateKeyPairSync("ed25519");

function writeFile(name: string, content: string): string {
  fs.writeFileSync(path.join(directory, name), content);
  return name;
}
const rsaPem = rsa.publicKey.export({ type: "spki", format: "pem" }).toString();
writeFile("rsa.pem", rsaPem);
writeFile("ec.pem", ec.publicKey.export({ type: "spki", format: "pem" }).toString());
writeFile("ed.pem", ed.publicKey.export({ type: "spki", format: "pem" }).toString());

function config(overrides: Partial<JwtAuthConfig>): JwtAuthConfig {
  return { type: "jwt", clock_tolerance: 30, ...overrides };
}
const now = () => Math.floor(Date.now() / 1000);

async function sign(key: Uint8Array | KeyObject, alg: string, payload: JWTPayload = {}, kid?: string): Promise<string> {
  return new SignJWT({ sub: "alice", exp: now() + 600, ...payload }).setProtectedHeader({ alg, typ: "JWT", kid }).sign(key);
}
const secretKey = new TextEncoder().encode(secret);

async function expectUnauthorized(promise: Promise<unknown>, reason?: string | RegExp): Promise<ClawError> {
  const error = await promise.then(
    () => undefined,
    (caught: unknown) => caught,
  );
  expect(error).toBeInstanceOf(ClawError);
  const clawError = error as ClawError;
  expect(clawError.code).toBe("unauthorized");
  expect(clawError.status).toBe(401);
  expect(clawError.message).not.toMatch(/\n\s+at /);
  if (reason !== undefined) expect(clawError.message).toMatch(reason);
  return clawError;
}

const base64url = (value: unknown) => Buffer.from(JSON.stringify(value)).toString("base64url");

describe("token verifier: attacks are refused with unauthorized", () => {
  it("refuses alg none (an unsigned token built by hand)", async () => {
    const verifier = await createTokenVerifier(config({ secret }), directory);
    const unsigned = `${base64url({ alg: "none", typ: "JWT" })}.${base64url({ sub: "alice", exp: now() + 600 })}.`;
    await expectUnauthorized(verifier.verify(unsigned), "algorithm not allowed");
    const keyed = await createTokenVerifier(config({ public_key: "rsa.pem" }), directory);
    await expectUnauthorized(keyed.verify(unsigned));
  });

  it("refuses HS/RS confusion: HS256 keyed with the PEM public key text", async () => {
    const verifier = await createTokenVerifier(config({ public_key: "rsa.pem" }), directory);
    const forged = await sign(new TextEncoder().encode(rsaPem), "HS256");
    await expectUnauthorized(verifier.verify(forged), "algorithm not allowed");
  });

  it("refuses an expired token beyond the clock tolerance", async () => {
    const verifier = await createTokenVerifier(config({ secret, clock_tolerance: 30 }), directory);
    await expectUnauthorized(verifier.verify(await sign(secretKey, "HS256", { exp: now() - 60 })), "token expired");
  });

  it("refuses a token whose nbf is in the future", async () => {
    const verifier = await createTokenVerifier(config({ secret, clock_tolerance: 30 }), directory);
    await expectUnauthorized(verifier.verify(await sign(secretKey, "HS256", { nbf: now() + 300 })), "not yet valid");
  });

  it("refuses a wrong or missing audience", async () => {
    const verifier = await createTokenVerifier(config({ secret, audience: "clawbot" }), directory);
    await expectUnauthorized(verifier.verify(await sign(secretKey, "HS256", { aud: "someone-else" })), "audience");
    await expectUnauthorized(verifier.verify(await sign(secretKey, "HS256")), /aud/);
  });

  it("refuses a wrong issuer", async () => {
    const verifier = await createTokenVerifier(config({ secret, issuer: "https://issuer.example" }), directory);
    await expectUnauthorized(verifier.verify(await sign(secretKey, "HS256", { iss: "https://evil.example" })), "issuer");
  });

  it("refuses a tampered payload that keeps the original signature", async () => {
    const verifier = await createTokenVerifier(config({ secret }), directory);
    const [header, payload, signature] = (await sign(secretKey, "HS256", { role: "user" })).split(".");
    const claims = JSON.parse(Buffer.from(payload as string, "base64url").toString()) as Record<string, unknown>;
    const tampered = `${header}.${base64url({ ...claims, role: "admin" })}.${signature}`;
    await expectUnauthorized(verifier.verify(tampered), "signature");
  });

  it("refuses a token signed with a different secret or key pair", async () => {
    const hmac = await createTokenVerifier(config({ secret }), directory);
    const otherSecret = new TextEncoder().encode("another-secret-that-is-long-enough-1234");
    await expectUnauthorized(hmac.verify(await sign(otherSecret, "HS256")), "signature");
    const rsaVerifier = await createTokenVerifier(config({ public_key: "rsa.pem" }), directory);
    await expectUnauthorized(rsaVerifier.verify(await sign(otherRsa.privateKey, "RS256")), "signature");
  });

  it("refuses a token without exp", async () => {
    const verifier = await createTokenVerifier(config({ secret }), directory);
    const token = await new SignJWT({ sub: "alice" }).setProtectedHeader({ alg: "HS256" }).sign(secretKey);
    await expectUnauthorized(verifier.verify(token), "no exp claim");
  });

  it("refuses a token without sub, or with a non-string sub", async () => {
    const verifier = await createTokenVerifier(config({ secret }), directory);
    const token = await new SignJWT({}).setProtectedHeader({ alg: "HS256" }).setExpirationTime("5m").sign(secretKey);
    await expectUnauthorized(verifier.verify(token), "no sub claim");
    await expectUnauthorized(verifier.verify(await sign(secretKey, "HS256", { sub: 42 as unknown as string })));
  });

  it("refuses garbage, empty and oversized tokens", async () => {
    const verifier = await createTokenVerifier(config({ secret }), directory);
    await expectUnauthorized(verifier.verify("not-a-jwt"), "malformed");
    await expectUnauthorized(verifier.verify(""), "missing token");
    await expectUnauthorized(verifier.verify("a".repeat(20_000)), "too large");
  });

  it("refuses an HMAC algorithm the config narrowed away", async () => {
    const verifier = await createTokenVerifier(config({ secret, algorithms: ["HS512"] }), directory);
    await expectUnauthorized(verifier.verify(await sign(secretKey, "HS256")), "algorithm not allowed");
    await expect(verifier.verify(await sign(secretKey, "HS512"))).resolves.toMatchObject({ subject: "alice" });
  });
});

describe("token verifier: accepted keys and claims", () => {
  it("accepts HS256 with a secret and maps roles, scopes and claims", async () => {
    const verifier = await createTokenVerifier(config({ secret, audience: "clawbot", issuer: "me" }), directory);
    const token = await sign(secretKey, "HS256", { aud: "clawbot", iss: "me", role: "admin", roles: ["user", "admin"], scope: "chat  models" });
    const principal = await verifier.verify(token);
    expect(principal.subject).toBe("alice");
    expect(principal.roles).toEqual(["admin", "user"]);
    expect(principal.scopes).toEqual(["chat", "models"]);
    expect(principal.claims).toMatchObject({ sub: "alice", aud: "clawbot", iss: "me" });
  });

  it("reads scopes from an scp array and defaults roles and scopes to empty", async () => {
    const verifier = await createTokenVerifier(config({ secret }), directory);
    expect(await verifier.verify(await sign(secretKey, "HS256", { scp: ["a", "b"] }))).toMatchObject({ roles: [], scopes: ["a", "b"] });
    expect(await verifier.verify(await sign(secretKey, "HS384"))).toMatchObject({ roles: [], scopes: [] });
  });

  it("accepts RS256 and PS256 with a public_key PEM file resolved against baseDir", async () => {
    const verifier = await createTokenVerifier(config({ public_key: "rsa.pem" }), directory);
    expect((await verifier.verify(await sign(rsa.privateKey, "RS256"))).subject).toBe("alice");
    expect((await verifier.verify(await sign(rsa.privateKey, "PS256"))).subject).toBe("alice");
  });

  it("accepts ES256 and EdDSA", async () => {
    const ecVerifier = await createTokenVerifier(config({ public_key: "ec.pem" }), directory);
    expect((await ecVerifier.verify(await sign(ec.privateKey, "ES256"))).subject).toBe("alice");
    const edVerifier = await createTokenVerifier(config({ public_key: path.join(directory, "ed.pem") }), "/");
    expect((await edVerifier.verify(await sign(ed.privateKey, "EdDSA"))).subject).toBe("alice");
    await expectUnauthorized(ecVerifier.verify(await sign(ed.privateKey, "EdDSA")), "algorithm not allowed");
  });

  it("accepts tokens from a JWKS file, by kid and by trying every matching key", async () => {
    const jwk = (key: KeyObject, extra: Record<string, string>) => ({ ...key.export({ format: "jwk" }), ...extra });
    writeFile(
      "keys.json",
      JSON.stringify({
        keys: [jwk(otherRsa.publicKey, { kid: "old" }), jwk(rsa.publicKey, { kid: "new", alg: "RS256" }), jwk(ec.publicKey, { kid: "ec", use: "sig" })],
      }),
    );
    const verifier = await createTokenVerifier(config({ jwks: "keys.json" }), directory);
    expect((await verifier.verify(await sign(rsa.privateKey, "RS256", {}, "new"))).subject).toBe("alice");
    expect((await verifier.verify(await sign(ec.privateKey, "ES256", {}, "ec"))).subject).toBe("alice");
    expect((await verifier.verify(await sign(rsa.privateKey, "RS256"))).subject).toBe("alice");
    await expectUnauthorized(verifier.verify(await sign(ed.privateKey, "EdDSA")), "algorithm not allowed");
    await expectUnauthorized(verifier.verify(await sign(ec.privateKey, "ES256", {}, "missing")), "no key matches");
    await expectUnauthorized(verifier.verify(await sign(secretKey, "HS256")), "algorithm not allowed");
  });

  it("accepts a token expired by less than the clock tolerance", async () => {
    const verifier = await createTokenVerifier(config({ secret, clock_tolerance: 30 }), directory);
    expect((await verifier.verify(await sign(secretKey, "HS256", { exp: now() - 10, nbf: now() + 10 }))).subject).toBe("alice");
  });
});

describe("token verifier: configuration errors at creation", () => {
  it("refuses algorithms that do not fit the key, and none", async () => {
    await expect(createTokenVerifier(config({ public_key: "rsa.pem", algorithms: ["HS256"] }), directory)).rejects.toThrow(/HS256 does not fit/);
    await expect(createTokenVerifier(config({ secret, algorithms: ["RS256"] }), directory)).rejects.toThrow(/RS256 does not fit/);
    await expect(createTokenVerifier(config({ secret, algorithms: ["none"] }), directory)).rejects.toThrow(/none/);
    await expect(createTokenVerifier(config({ public_key: "ec.pem", algorithms: ["ES384"] }), directory)).rejects.toThrow(/ES384/);
  });

  it("names a missing key file and refuses zero or several key sources", async () => {
    await expect(createTokenVerifier(config({ public_key: "absent.pem" }), directory)).rejects.toThrow(path.join(directory, "absent.pem"));
    await expect(createTokenVerifier(config({ jwks: "absent.json" }), directory)).rejects.toThrow(/absent\.json.*file not found/);
    await expect(createTokenVerifier(config({}), directory)).rejects.toThrow(/exactly one/);
    await expect(createTokenVerifier(config({ secret, public_key: "rsa.pem" }), directory)).rejects.toThrow(/exactly one/);
  });

  it("refuses a non-key PEM, symmetric or private JWKS members, and small RSA keys", async () => {
    writeFile("junk.pem", "not a key");
    await expect(createTokenVerifier(config({ public_key: "junk.pem" }), directory)).rejects.toThrow(/junk\.pem/);
    writeFile("oct.json", JSON.stringify({ keys: [{ kty: "oct", k: "c2VjcmV0" }] }));
    await expect(createTokenVerifier(config({ jwks: "oct.json" }), directory)).rejects.toThrow(/symmetric/);
    writeFile("private.json", JSON.stringify({ keys: [ec.privateKey.export({ format: "jwk" })] }));
    await expect(createTokenVerifier(config({ jwks: "private.json" }), directory)).rejects.toThrow(/private/);
    const small = generateKeyPairSync("rsa", { modulusLength: 1024 });
    writeFile("small.pem", small.publicKey.export({ type: "spki", format: "pem" }).toString());
    await expect(createTokenVerifier(config({ public_key: "small.pem" }), directory)).rejects.toThrow(/2048/);
  });
});

describe("weakSecretReason", () => {
  it("flags the placeholder and short secrets", () => {
    expect(weakSecretReason("your-secret-key")).toBe("is the placeholder your-secret-key");
    expect(weakSecretReason("short")).toBe("is shorter than 32 bytes");
    expect(weakSecretReason(secret)).toBeUndefined();
  });
});
