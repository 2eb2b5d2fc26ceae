// SM2-SM3 JWTs: keys from openssl, sm-crypto-v2 and the independent sm-crypto; forgeries, wrong algorithms and alg confusion refused.
import { execFileSync } from "node:child_process";
import { createHmac, generateKeyPairSync } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import { createRequire } from "node:module";
import path from "node:path";
import { SignJWT } from "jose";
import { sm2 } from "sm-crypto-v2";
import { afterAll, describe, expect, it } from "vitest";
import { issueFromOptions } from "../src/cli/token-issue.js";
import type { JwtAuthConfig } from "../src/config/schema.js";
import { ClawError } from "../src/core/errors.js";
import { issueToken, signingAlgorithms } from "../src/security/jwt-issuer.js";
import { createTokenVerifier } from "../src/security/jwt-verifier.js";
import { signSm2Jwt } from "../src/security/sm2-jwt.js";
import { sm2PrivateKeyFromPem, sm2PublicKeyFromPem } from "../src/security/sm2-key.js";

/** The independent implementation (devDependency, no type declarations): only what the interop test calls. */
const smCrypto = createRequire(import.meta.url)("sm-crypto") as {
  sm2: { doSignature(message: string, privateKey: string, options: { hash: boolean; der: boolean; publicKey: string; userId: string }): string };
};

const directory = fs.mkdtempSync(path.join(os.tmpdir(), "clawbot-sm2-jwt-"));
afterAll(() => fs.rmSync(directory, { recursive: true, force: true }));

const now = () => Math.floor(Date.now() / 1000);
const config = (overrides: Partial<JwtAuthConfig>): JwtAuthConfig => ({ type: "jwt", clock_tolerance: 30, ...overrides });
const write = (name: string, content: string): string => {
  fs.writeFileSync(path.join(directory, name), content);
  return name;
};
const base64url = (value: string | Buffer) => Buffer.from(value).toString("base64url");

/** An SPKI PEM (id-ecPublicKey on the SM2 curve) for a 04‖x‖y hex key: what openssl writes for an SM2 key. */
function spkiPem(publicKeyHex: string): string {
  const der = Buffer.concat([Buffer.from("3059301306072a8648ce3d020106082a811ccf5501822d034200", "hex"), Buffer.from(publicKeyHex, "hex")]);
  return `-----BEGIN PUBLIC KEY-----\n${der.toString("base64").replace(/.{64}/g, "$&\n")}\n-----END PUBLIC KEY-----\n`;
}
const jwk = (publicKeyHex: string) => ({ kty: "EC", crv: "SM2", x: base64url(Buffer.from(publicKeyHex.slice(2, 66), "hex")), y: base64url(Buffer.from(publicKeyHex.slice(66), "hex")) });

// One key made by openssl (PEM files, as an operator would have them), two by sm-crypto-v2.
execFileSync("openssl", ["genpkey", "-algorithm", "SM2", "-out", path.join(directory, "sm2-private.pem")]);
execFileSync("openssl", ["pkey", "-in", path.join(directory, "sm2-private.pem"), "-pubout", "-out", path.join(directory, "sm2-public.pem")]);
const opensslPrivatePem = fs.readFileSync(path.join(directory, "sm2-private.pem"), "utf8");
const generated = sm2.generateKeyPairHex();
const other = sm2.generateKeyPairHex();
write("generated.pem", spkiPem(generated.publicKey));
const ec = generateKeyPairSync("ec", { namedCurve: "P-256" });
write("keys.jwks", JSON.stringify({ keys: [jwk(generated.publicKey), { ...(ec.publicKey.export({ format: "jwk" }) as object), alg: "ES256" }] }));

async function refused(promise: Promise<unknown>, reason: string | RegExp): Promise<void> {
  const error = await promise.then(() => undefined, (caught: unknown) => caught);
  expect(error).toBeInstanceOf(ClawError);
  expect((error as ClawError).code).toBe("unauthorized");
  expect((error as ClawError).message).toMatch(reason);
}

/** A token from the independent sm-crypto package, built from the JWS rules alone (r‖s or DER signature). */
function smCryptoToken(claims: object, keyPair: { privateKey: string; publicKey: string }, options: { der?: boolean; alg?: string } = {}): string {
  const signingInput = `${base64url(JSON.stringify({ alg: options.alg ?? "SM2-SM3", typ: "JWT" }))}.${base64url(JSON.stringify(claims))}`;
  const signature = smCrypto.sm2.doSignature(signingInput, keyPair.privateKey, { hash: true, der: options.der ?? false, publicKey: keyPair.publicKey, userId: "1234567812345678" });
  return `${signingInput}.${base64url(Buffer.from(signature, "hex"))}`;
}

describe("SM2 keys", () => {
  it("reads openssl's SM2 PEM files and tells other keys apart", () => {
    const privateKey = sm2PrivateKeyFromPem(opensslPrivatePem);
    expect(privateKey?.privateKey).toMatch(/^[0-9a-f]{64}$/);
    expect(sm2PublicKeyFromPem(fs.readFileSync(path.join(directory, "sm2-public.pem"), "utf8"))).toBe(privateKey?.publicKey);
    expect(sm2PublicKeyFromPem(ec.publicKey.export({ type: "spki", format: "pem" }).toString())).toBeUndefined();
    expect(sm2PrivateKeyFromPem(ec.privateKey.export({ type: "pkcs8", format: "pem" }).toString())).toBeUndefined();
  });

  it("refuses an SM2 public key that is not on the curve", async () => {
    const offCurve = `04${"11".repeat(64)}`;
    write("off-curve.pem", spkiPem(offCurve));
    await expect(createTokenVerifier(config({ public_key: "off-curve.pem" }), directory)).rejects.toThrow(/not a point on the curve/);
    write("off-curve.jwks", JSON.stringify({ keys: [jwk(offCurve)] }));
    await expect(createTokenVerifier(config({ jwks: "off-curve.jwks" }), directory)).rejects.toThrow(/keys\[0\] is not a valid SM2 public key/);
  });
});

describe("SM2-SM3 tokens", () => {
  it("accepts a token issued with openssl's key and verified with its public PEM", async () => {
    const verifier = await createTokenVerifier(config({ public_key: "sm2-public.pem", audience: "clinic" }), directory);
    const token = await issueToken({ privateKeyPem: opensslPrivatePem, subject: "alice", roles: ["doctor"], ttl: "10m", audience: "clinic" });
    expect(JSON.parse(Buffer.from(token.split(".")[0] as string, "base64url").toString())).toEqual({ alg: "SM2-SM3", typ: "JWT" });
    expect(Buffer.from(token.split(".")[2] as string, "base64url")).toHaveLength(64);
    const principal = await verifier.verify(token);
    expect(principal).toMatchObject({ subject: "alice", roles: ["doctor"] });
    expect(signingAlgorithms({ privateKeyPem: opensslPrivatePem })).toEqual(["SM2-SM3"]);
  });

  it("accepts tokens minted by the independent sm-crypto package, r‖s and DER signatures", async () => {
    const verifier = await createTokenVerifier(config({ public_key: "generated.pem" }), directory);
    const claims = { sub: "bob", exp: now() + 600 };
    expect((await verifier.verify(smCryptoToken(claims, generated))).subject).toBe("bob");
    expect((await verifier.verify(smCryptoToken(claims, generated, { der: true }))).subject).toBe("bob");
  });

  it("verifies SM2 and ES256 keys from one JWKS", async () => {
    const verifier = await createTokenVerifier(config({ jwks: "keys.jwks" }), directory);
    expect((await verifier.verify(signSm2Jwt({ sub: "carol", exp: now() + 60 }, generated))).subject).toBe("carol");
    const es256 = await new SignJWT({ sub: "dave", exp: now() + 60 }).setProtectedHeader({ alg: "ES256" }).sign(ec.privateKey);
    expect((await verifier.verify(es256)).subject).toBe("dave");
    await refused(verifier.verify(signSm2Jwt({ sub: "carol", exp: now() + 60 }, other)), "invalid token signature");
  });

  it("refuses a token signed by another SM2 key, or with one flipped bit", async () => {
    const verifier = await createTokenVerifier(config({ public_key: "generated.pem" }), directory);
    await refused(verifier.verify(signSm2Jwt({ sub: "eve", exp: now() + 60 }, other)), "invalid token signature");
    const [header, payload, signature] = signSm2Jwt({ sub: "alice", exp: now() + 60 }, generated).split(".") as [string, string, string];
    const flipped = Buffer.from(signature, "base64url");
    flipped[10] = (flipped[10] as number) ^ 1;
    await refused(verifier.verify(`${header}.${payload}.${flipped.toString("base64url")}`), "invalid token signature");
    // The claims changed after signing (sub alice → eve): the signature no longer covers them.
    await refused(verifier.verify(`${header}.${base64url(JSON.stringify({ sub: "eve", exp: now() + 60 }))}.${signature}`), "invalid token signature");
    await refused(verifier.verify(`${header}.${payload}.`), "invalid token signature");
  });

  it("applies the same claim rules as every other algorithm", async () => {
    const verifier = await createTokenVerifier(config({ public_key: "generated.pem", audience: "clinic", issuer: "https://idp.example.gov.cn" }), directory);
    const good = { sub: "alice", aud: "clinic", iss: "https://idp.example.gov.cn" };
    expect((await verifier.verify(signSm2Jwt({ ...good, exp: now() + 60 }, generated))).subject).toBe("alice");
    await refused(verifier.verify(signSm2Jwt({ ...good, exp: now() - 120 }, generated)), "token expired");
    await refused(verifier.verify(signSm2Jwt({ ...good }, generated)), "token has no exp claim");
    await refused(verifier.verify(signSm2Jwt({ ...good, sub: undefined, exp: now() + 60 }, generated)), "token has no sub claim");
    await refused(verifier.verify(signSm2Jwt({ ...good, aud: "billing", exp: now() + 60 }, generated)), "wrong token audience");
    await refused(verifier.verify(signSm2Jwt({ ...good, iss: "https://evil.example", exp: now() + 60 }, generated)), "wrong token issuer");
    await refused(verifier.verify(signSm2Jwt({ ...good, exp: now() + 600, nbf: now() + 300 }, generated)), "token not yet valid");
  });

  it("refuses wrong algorithms: none, HS256 keyed with the SM2 public key (alg confusion), ES256 on an SM2 key", async () => {
    const verifier = await createTokenVerifier(config({ public_key: "sm2-public.pem" }), directory);
    const payload = base64url(JSON.stringify({ sub: "mallory", exp: now() + 60 }));
    await refused(verifier.verify(`${base64url('{"alg":"none"}')}.${payload}.`), "token algorithm not allowed");
    const publicPem = fs.readFileSync(path.join(directory, "sm2-public.pem"), "utf8");
    const hsInput = `${base64url('{"alg":"HS256","typ":"JWT"}')}.${payload}`;
    const hs256 = `${hsInput}.${createHmac("sha256", publicPem).update(hsInput).digest("base64url")}`;
    await refused(verifier.verify(hs256), "token algorithm not allowed");
    // An SM2 signature under another algorithm's name is still refused by name.
    await refused(verifier.verify(smCryptoToken({ sub: "mallory", exp: now() + 60 }, generated, { alg: "ES256" })), "token algorithm not allowed");
    await expect(createTokenVerifier(config({ public_key: "sm2-public.pem", algorithms: ["HS256"] }), directory)).rejects.toThrow(/HS256 does not fit the SM2 public key/);
    await expect(createTokenVerifier(config({ public_key: "sm2-public.pem", algorithms: ["none"] }), directory)).rejects.toThrow(/"none" is never accepted/);
  });

  it("refuses SM2-SM3 tokens at a gateway that verifies another key type", async () => {
    write("ec.pem", ec.publicKey.export({ type: "spki", format: "pem" }).toString());
    const verifier = await createTokenVerifier(config({ public_key: "ec.pem" }), directory);
    await refused(verifier.verify(signSm2Jwt({ sub: "alice", exp: now() + 60 }, generated)), "token algorithm not allowed");
  });

  it("`clawbot token issue --key` signs SM2-SM3 with an SM2 private key file", async () => {
    const verifier = await createTokenVerifier(config({ public_key: "sm2-public.pem", issuer: "idp" }), directory);
    const token = await issueFromOptions({ key: path.join(directory, "sm2-private.pem"), sub: "frank", ttl: "5m", iss: "idp" });
    expect(await verifier.verify(token)).toMatchObject({ subject: "frank", roles: ["user"] });
  });

  it("will not sign SM2 with another algorithm's name", async () => {
    await expect(issueToken({ privateKeyPem: opensslPrivatePem, algorithm: "HS256", subject: "alice", ttl: "1m" })).rejects.toThrow(/HS256 does not fit the signing key \(it allows SM2-SM3\)/);
  });
});
