// Verifies bearer JWTs per RFC 8725: an algorithm allow-list derived from the configured key (SM2-SM3 included), required exp and sub, aud/iss checks.
import { createPublicKey, type JsonWebKey, type KeyObject } from "node:crypto";
import fs from "node:fs/promises";
import { createLocalJWKSet, decodeProtectedHeader, errors, jwtVerify, type JSONWebKeySet, type JWK, type JWTPayload, type JWTVerifyGetKey, type JWTVerifyOptions } from "jose";
import type { JwtAuthConfig } from "../config/schema.js";
import { resolveFromConfig } from "../config/load.js";
import { ClawError } from "../core/errors.js";
import type { Principal } from "../core/types.js";
import { sm2Algorithm, verifySm2Jwt } from "./sm2-jwt.js";
import { isSm2Jwk, sm2PublicKeyFromJwk, sm2PublicKeyFromPem } from "./sm2-key.js";

export interface TokenVerifier {
  /** Resolves to the token's principal, or throws ClawError("unauthorized", reason). */
  verify(token: string): Promise<Principal>;
}

export const hmacAlgorithms = ["HS256", "HS384", "HS512"] as const;
const rsaAlgorithms = ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512"];
const rsaPssAlgorithms = ["PS256", "PS384", "PS512"];
const curveAlgorithms: Record<string, string> = { prime256v1: "ES256", secp384r1: "ES384", secp521r1: "ES512" };
const eddsaAlgorithms = ["EdDSA", "Ed25519"];

/** Longest token accepted; anything longer is refused before any parsing. */
const maxTokenLength = 16 * 1024;

/** Why a shared secret is too weak to use, or undefined when it is acceptable. */
export function weakSecretReason(secret: string): string | undefined {
  if (secret === "your-secret-key") return "is the placeholder your-secret-key";
  if (Buffer.byteLength(secret, "utf8") < 32) return "is shorter than 32 bytes";
  return undefined;
}

/** The JWS algorithms an asymmetric key can verify (or sign) with; throws for key types jose cannot use. */
export function algorithmsForKey(key: KeyObject): string[] {
  const type = key.asymmetricKeyType;
  if (type === "rsa" || type === "rsa-pss") {
    const bits = key.asymmetricKeyDetails?.modulusLength ?? 0;
    if (bits < 2048) throw new Error(`RSA key has ${bits} bits; at least 2048 are required`);
    return type === "rsa" ? [...rsaAlgorithms] : [...rsaPssAlgorithms];
  }
  if (type === "ec") {
    const curve = key.asymmetricKeyDetails?.namedCurve ?? "unknown";
    const algorithm = curveAlgorithms[curve];
    if (!algorithm) throw new Error(`EC curve ${curve} is not supported (use P-256, P-384 or P-521)`);
    return [algorithm];
  }
  if (type === "ed25519") return [...eddsaAlgorithms];
  throw new Error(`key type ${type ?? "unknown"} is not supported (use RSA, EC P-256/P-384/P-521 or Ed25519)`);
}

type VerificationKey = Uint8Array | KeyObject | JWTVerifyGetKey;

/** Builds a verifier from the gateway's auth config; throws a plain Error naming the problem when the config cannot work. */
export async function createTokenVerifier(config: JwtAuthConfig, baseDir: string): Promise<TokenVerifier> {
  const sources = [config.secret, config.public_key, config.jwks].filter((value) => value !== undefined);
  if (sources.length !== 1) {
    throw new Error(`auth: jwt needs exactly one of secret, public_key or jwks (found ${sources.length})`);
  }
  let key: VerificationKey | undefined;
  /** SM2 public keys (04‖x‖y hex): tokens with alg SM2-SM3 are verified against them, not by jose. */
  let sm2Keys: string[] = [];
  let supported: string[];
  let keyDescription: string;
  if (config.secret !== undefined) {
    key = new TextEncoder().encode(config.secret);
    supported = [...hmacAlgorithms];
    keyDescription = "a shared secret";
  } else if (config.public_key !== undefined) {
    const file = resolveFromConfig(baseDir, config.public_key);
    const pem = await readKeyFile(file, "auth.public_key");
    const sm2Key = describeKey(() => sm2PublicKeyFromPem(pem), file);
    if (sm2Key !== undefined) {
      sm2Keys = [sm2Key];
      supported = [sm2Algorithm];
      keyDescription = `the SM2 public key in ${file}`;
    } else {
      const publicKey = parsePublicKey(pem, file);
      key = publicKey;
      supported = describeKey(() => algorithmsForKey(publicKey), file);
      keyDescription = `the ${publicKey.asymmetricKeyType} public key in ${file}`;
    }
  } else {
    const file = resolveFromConfig(baseDir, config.jwks as string);
    const keySet = await readKeySet(file);
    key = keySet.resolve;
    sm2Keys = keySet.sm2Keys;
    supported = keySet.algorithms;
    keyDescription = `the key set in ${file}`;
  }
  const algorithms = narrowAlgorithms(supported, config.algorithms, keyDescription);
  const options: JWTVerifyOptions = {
    algorithms: algorithms.filter((algorithm) => algorithm !== sm2Algorithm),
    audience: config.audience,
    issuer: config.issuer,
    clockTolerance: config.clock_tolerance,
    // exp is required: a token that never expires stays valid forever once leaked (RFC 8725 §3.10 spirit).
    requiredClaims: ["exp", "sub"],
  };
  return {
    async verify(token: string): Promise<Principal> {
      if (typeof token !== "string" || token.length === 0) throw new ClawError("unauthorized", "missing token");
      if (token.length > maxTokenLength) throw new ClawError("unauthorized", "token too large");
      let payload: JWTPayload;
      try {
        // SM2-SM3 is not a JOSE-registered algorithm: such tokens go to sm2-jwt.ts, under the same allow-list and claim rules.
        if (sm2Keys.length > 0 && algorithms.includes(sm2Algorithm) && headerAlgorithm(token) === sm2Algorithm) payload = verifySm2Jwt(token, sm2Keys, options);
        else if (key !== undefined) payload = (await verifyWithKey(token, key, options)).payload;
        else throw new errors.JOSEAlgNotAllowed("only SM2-SM3 is accepted");
      } catch (error) {
        throw new ClawError("unauthorized", describeFailure(error));
      }
      return toPrincipal(payload);
    },
  };
}

/** The token's `alg` header, or undefined when the header does not decode (jose then refuses the token as malformed). */
function headerAlgorithm(token: string): unknown {
  try {
    return decodeProtectedHeader(token).alg;
  } catch {
    return undefined;
  }
}

async function readKeyFile(file: string, label: string): Promise<string> {
  try {
    return await fs.readFile(file, "utf8");
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code === "ENOENT" ? "file not found" : (error as Error).message;
    throw new Error(`${label}: cannot read ${file} (${reason})`);
  }
}

function parsePublicKey(pem: string, file: string): KeyObject {
  let key: KeyObject;
  try {
    key = createPublicKey(pem);
  } catch {
    throw new Error(`auth.public_key: ${file} does not hold a PEM public key`);
  }
  return key;
}

function describeKey<T>(derive: () => T, file: string): T {
  try {
    return derive();
  } catch (error) {
    throw new Error(`auth: ${file}: ${(error as Error).message}`);
  }
}

/** Reads a JWKS file, checks every signing key in it, and returns the resolver plus the algorithms its keys allow. */
async function readKeySet(file: string): Promise<{ resolve?: JWTVerifyGetKey; sm2Keys: string[]; algorithms: string[] }> {
  const text = await readKeyFile(file, "auth.jwks");
  let document: unknown;
  try {
    document = JSON.parse(text);
  } catch {
    throw new Error(`auth.jwks: ${file} is not valid JSON`);
  }
  const keys = (document as { keys?: unknown } | null)?.keys;
  if (!Array.isArray(keys)) throw new Error(`auth.jwks: ${file} has no "keys" array`);
  const signingKeys: JWK[] = [];
  const sm2Keys: string[] = [];
  const algorithms = new Set<string>();
  keys.forEach((entry: unknown, index) => {
    const where = `auth.jwks: ${file}: keys[${index}]`;
    if (entry === null || typeof entry !== "object") throw new Error(`${where} is not an object`);
    const jwk = entry as JWK;
    if (jwk.use !== undefined && jwk.use !== "sig") return;
    if (jwk.kty === "oct") throw new Error(`${where} is a symmetric (oct) key; use auth.secret for HMAC`);
    if (jwk.d !== undefined || jwk.p !== undefined) throw new Error(`${where} holds private key material; publish only public keys`);
    if (isSm2Jwk(jwk)) {
      if (jwk.alg !== undefined && jwk.alg !== sm2Algorithm) throw new Error(`${where}: alg ${jwk.alg} does not fit an SM2 key (it allows ${sm2Algorithm})`);
      try {
        sm2Keys.push(sm2PublicKeyFromJwk(jwk));
      } catch (error) {
        throw new Error(`${where} is not a valid SM2 public key (${(error as Error).message})`);
      }
      algorithms.add(sm2Algorithm);
      return;
    }
    let keyObject: KeyObject;
    try {
      keyObject = createPublicKey({ key: jwk as JsonWebKey, format: "jwk" });
    } catch (error) {
      throw new Error(`${where} is not a valid public key (${(error as Error).message})`);
    }
    let fitting: string[];
    try {
      fitting = algorithmsForKey(keyObject);
    } catch (error) {
      throw new Error(`${where}: ${(error as Error).message}`);
    }
    if (jwk.alg !== undefined) {
      if (!fitting.includes(jwk.alg)) throw new Error(`${where}: alg ${jwk.alg} does not fit a ${keyObject.asymmetricKeyType} key`);
      fitting = [jwk.alg];
    }
    for (const algorithm of fitting) algorithms.add(algorithm);
    signingKeys.push(jwk);
  });
  if (signingKeys.length === 0 && sm2Keys.length === 0) throw new Error(`auth.jwks: ${file} has no signing keys`);
  const resolve = signingKeys.length > 0 ? createLocalJWKSet({ keys: signingKeys } as JSONWebKeySet) : undefined;
  return { ...(resolve ? { resolve } : {}), sm2Keys, algorithms: [...algorithms] };
}

/** Applies the configured `algorithms` to what the key supports; refuses `none` and anything the key cannot verify. */
function narrowAlgorithms(supported: string[], configured: string[] | undefined, keyDescription: string): string[] {
  if (!configured) return supported;
  for (const algorithm of configured) {
    if (algorithm.toLowerCase() === "none") throw new Error(`auth.algorithms: "none" is never accepted`);
    if (!supported.includes(algorithm)) {
      throw new Error(`auth.algorithms: ${algorithm} does not fit ${keyDescription} (it allows ${supported.join(", ")})`);
    }
  }
  return [...new Set(configured)];
}

/** Verifies with one key, or with a key set; when several keys in the set match, each is tried in turn. */
async function verifyWithKey(token: string, key: VerificationKey, options: JWTVerifyOptions): Promise<{ payload: JWTPayload }> {
  if (typeof key !== "function") return jwtVerify(token, key, options);
  try {
    return await jwtVerify(token, key, options);
  } catch (error) {
    if (!(error instanceof errors.JWKSMultipleMatchingKeys)) throw error;
    for await (const candidate of error) {
      try {
        return await jwtVerify(token, candidate, options);
      } catch (inner) {
        if (!(inner instanceof errors.JWSSignatureVerificationFailed)) throw inner;
      }
    }
    throw new errors.JWSSignatureVerificationFailed();
  }
}

/** A short reason for the client; never the library's message or stack. */
function describeFailure(error: unknown): string {
  if (error instanceof errors.JWTExpired) return error.claim === "exp" ? "token expired" : "token too old";
  if (error instanceof errors.JWTClaimValidationFailed) {
    if (error.reason === "missing") return `token has no ${error.claim} claim`;
    if (error.claim === "nbf") return "token not yet valid";
    if (error.claim === "aud") return "wrong token audience";
    if (error.claim === "iss") return "wrong token issuer";
    if (error.claim === "iat") return "token issued in the future";
    return `invalid ${error.claim} claim`;
  }
  if (error instanceof errors.JOSEAlgNotAllowed) return "token algorithm not allowed";
  if (error instanceof errors.JWSSignatureVerificationFailed) return "invalid token signature";
  if (error instanceof errors.JWKSNoMatchingKey) return "no key matches the token";
  if (error instanceof errors.JOSENotSupported) return "token algorithm not supported";
  if (error instanceof errors.JWSInvalid || error instanceof errors.JWTInvalid) return "malformed token";
  return "token could not be verified";
}

/** Maps verified claims onto a Principal; malformed sub/role/scope claims are refused rather than ignored. */
function toPrincipal(payload: JWTPayload): Principal {
  const { sub } = payload;
  if (typeof sub !== "string" || sub.length === 0) throw new ClawError("unauthorized", "token has no sub claim");
  const roles = [...stringOrList(payload.role, "role", false), ...stringOrList(payload.roles, "roles", false)];
  const scopes = [...stringOrList(payload.scope, "scope", true), ...stringOrList(payload.scp, "scp", true)];
  return { subject: sub, roles: [...new Set(roles)], scopes: [...new Set(scopes)], claims: { ...payload } };
}

function stringOrList(value: unknown, claim: string, splitSpaces: boolean): string[] {
  if (value === undefined) return [];
  if (typeof value === "string") return (splitSpaces ? value.split(/\s+/) : [value]).filter(Boolean);
  if (Array.isArray(value) && value.every((item) => typeof item === "string")) return value;
  throw new ClawError("unauthorized", `invalid ${claim} claim`);
}
