// Signs short-lived JWTs for Clawbot gateways with a shared secret or a private key, SM2 included (used by `clawbot token issue` and tests).
import { createPrivateKey, type KeyObject } from "node:crypto";
import { randomUUID } from "node:crypto";
import { SignJWT } from "jose";
import type { JwtAuthConfig } from "../config/schema.js";
import { algorithmsForKey, hmacAlgorithms } from "./jwt-verifier.js";
import { signSm2Jwt, sm2Algorithm } from "./sm2-jwt.js";
import { sm2PrivateKeyFromPem } from "./sm2-key.js";

export interface IssueTokenOptions {
  /** HMAC shared secret (HS256 by default). */
  secret?: string;
  /** PEM private key (PKCS#8, PKCS#1 or SEC1; an SM2 key signs SM2-SM3); the algorithm is inferred from the key type. */
  privateKeyPem?: string;
  /** JWS algorithm; must fit the key. */
  algorithm?: string;
  subject: string;
  roles?: string[];
  /** Scopes, written as the `scope` claim (space-separated, RFC 8693), e.g. ["admin"]. */
  scopes?: string[];
  /** Lifetime such as "3600s", "30m", "1h" or "7d". */
  ttl: string;
  audience?: string;
  issuer?: string;
}

const unitSeconds: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86400 };

/** Parses "90s", "30m", "1h", "7d" into seconds; throws an Error explaining the format otherwise. */
export function parseTtl(ttl: string): number {
  const match = /^\s*(\d+)\s*([smhd])\s*$/i.exec(ttl);
  const amount = match ? Number(match[1]) : Number.NaN;
  const unit = match?.[2]?.toLowerCase();
  if (!unit || !Number.isSafeInteger(amount) || amount <= 0) {
    throw new Error(`invalid ttl "${ttl}": expected a positive whole number followed by s, m, h or d (e.g. 3600s, 30m, 1h, 7d)`);
  }
  return amount * (unitSeconds[unit] as number);
}

/** The algorithms a signing key allows, the default one first. */
export function signingAlgorithms(options: Pick<IssueTokenOptions, "secret" | "privateKeyPem">): string[] {
  if (options.privateKeyPem !== undefined && sm2PrivateKeyFromPem(options.privateKeyPem)) return [sm2Algorithm];
  const { key } = resolveSigningKey(options);
  return key instanceof Uint8Array ? [...hmacAlgorithms] : algorithmsForKey(key);
}

/** Signs a JWT with iat, exp, sub, a random jti, role (one role) or roles (several), scope, and aud/iss when given. */
export async function issueToken(options: IssueTokenOptions): Promise<string> {
  if (!options.subject) throw new Error("a subject (sub) is required");
  const lifetime = parseTtl(options.ttl);
  const sm2Key = options.privateKeyPem !== undefined && options.secret === undefined ? sm2PrivateKeyFromPem(options.privateKeyPem) : undefined;
  const { key, algorithms } = sm2Key ? { key: undefined, algorithms: [sm2Algorithm] } : resolveSigningKey(options);
  const algorithm = options.algorithm ?? algorithms[0];
  if (!algorithm || !algorithms.includes(algorithm)) {
    throw new Error(`algorithm ${options.algorithm} does not fit the signing key (it allows ${algorithms.join(", ")})`);
  }
  const roles = options.roles ?? [];
  const claims: Record<string, unknown> = {};
  if (roles.length === 1) claims.role = roles[0];
  else if (roles.length > 1) claims.roles = [...roles];
  if (options.scopes && options.scopes.length > 0) claims.scope = options.scopes.join(" ");
  const now = Math.floor(Date.now() / 1000);
  if (sm2Key) {
    // jose cannot sign SM2: the same claims, in the order SignJWT writes them, signed by sm2-jwt.ts.
    const audience = options.audience ? { aud: options.audience } : {};
    const issuer = options.issuer ? { iss: options.issuer } : {};
    return signSm2Jwt({ ...claims, sub: options.subject, iat: now, exp: now + lifetime, ...audience, ...issuer, jti: randomUUID() }, sm2Key);
  }
  const token = new SignJWT(claims)
    .setProtectedHeader({ alg: algorithm, typ: "JWT" })
    .setSubject(options.subject)
    .setIssuedAt(now)
    .setExpirationTime(now + lifetime)
    // A token id, so one token can be revoked (POST /admin/tokens/revoke) without revoking its subject.
    .setJti(randomUUID());
  if (options.audience) token.setAudience(options.audience);
  if (options.issuer) token.setIssuer(options.issuer);
  return token.sign(key as Uint8Array | KeyObject);
}

/** When the gateway narrows `algorithms`, the first one the key can produce, so the token is accepted. */
export function configuredAlgorithm(auth: JwtAuthConfig | undefined, key: { secret?: string; privateKeyPem?: string }): string | undefined {
  if (!auth?.algorithms) return undefined;
  const fitting = signingAlgorithms(key);
  return auth.algorithms.find((algorithm) => fitting.includes(algorithm));
}

/** A token a gateway with this shared-secret auth accepts (its audience, issuer and algorithms applied). */
export function issueGatewayToken(auth: JwtAuthConfig & { secret: string }, claims: { subject: string; roles: string[]; scopes?: string[]; ttl: string }): Promise<string> {
  return issueToken({
    secret: auth.secret,
    algorithm: configuredAlgorithm(auth, { secret: auth.secret }),
    subject: claims.subject,
    roles: claims.roles,
    ...(claims.scopes ? { scopes: claims.scopes } : {}),
    ttl: claims.ttl,
    audience: auth.audience,
    issuer: auth.issuer,
  });
}

function resolveSigningKey(options: Pick<IssueTokenOptions, "secret" | "privateKeyPem">): { key: Uint8Array | KeyObject; algorithms: string[] } {
  if ((options.secret === undefined) === (options.privateKeyPem === undefined)) {
    throw new Error("give exactly one of a secret or a private key");
  }
  if (options.secret !== undefined) {
    if (options.secret.length === 0) throw new Error("the secret is empty");
    return { key: new TextEncoder().encode(options.secret), algorithms: [...hmacAlgorithms] };
  }
  let key: KeyObject;
  try {
    key = createPrivateKey(options.privateKeyPem as string);
  } catch {
    throw new Error("the private key is not a readable PEM private key (an encrypted key or a public key cannot sign)");
  }
  return { key, algorithms: algorithmsForKey(key) };
}
