// JWS `alg: SM2-SM3` (GM/T 0003 SM2 signature over SM3 with the default user id 1234567812345678): sign and verify compact JWTs.
import { errors, UnsecuredJWT, type JWTClaimVerificationOptions, type JWTPayload } from "jose";
import { sm2 } from "sm-crypto-v2";

/** The JWS algorithm name the Chinese government identity providers use. */
export const sm2Algorithm = "SM2-SM3";
/** GM/T 0009's default signer id, hashed into Z_A. */
export const defaultSm2UserId = "1234567812345678";

/** Signs `claims` as a compact JWT: header {alg: SM2-SM3, typ: JWT}, signature r‖s (64 bytes) in base64url, like ES256. */
export function signSm2Jwt(claims: JWTPayload, key: { privateKey: string; publicKey: string }): string {
  const header = Buffer.from(JSON.stringify({ alg: sm2Algorithm, typ: "JWT" })).toString("base64url");
  const payload = Buffer.from(JSON.stringify(claims)).toString("base64url");
  const signingInput = `${header}.${payload}`;
  const signature = sm2.doSignature(Buffer.from(signingInput, "ascii"), key.privateKey, { hash: true, publicKey: key.publicKey, userId: defaultSm2UserId });
  return `${signingInput}.${Buffer.from(signature, "hex").toString("base64url")}`;
}

/**
 * Verifies an SM2-SM3 JWT against one of `publicKeys` (04‖x‖y hex), then its claims by jose's own rules (exp, nbf, iat,
 * aud, iss, required claims, clock tolerance), so an SM2 token passes exactly the checks an ES256 token does.
 * Throws jose's error classes (JWSInvalid, JOSEAlgNotAllowed, JWSSignatureVerificationFailed, JWTExpired, …).
 */
export function verifySm2Jwt(token: string, publicKeys: string[], options: JWTClaimVerificationOptions): JWTPayload {
  const parts = token.split(".");
  if (parts.length !== 3) throw new errors.JWSInvalid("Compact JWS must have three parts");
  const [encodedHeader, encodedPayload, encodedSignature] = parts as [string, string, string];
  const header = decodeJson(encodedHeader);
  if (header.alg !== sm2Algorithm) throw new errors.JOSEAlgNotAllowed(`"alg" (Algorithm) Header Parameter value not allowed`);
  // RFC 7515 §4.1.11: a critical extension we do not understand makes the token invalid.
  if (header.crit !== undefined) throw new errors.JOSENotSupported("crit header not supported");
  if (header.b64 !== undefined) throw new errors.JWSInvalid("b64 header not supported");
  const signature = signatureHex(encodedSignature);
  const signingInput = Buffer.from(`${encodedHeader}.${encodedPayload}`, "ascii");
  const verified = publicKeys.some((publicKey) =>
    safeVerify(() => sm2.doVerifySignature(signingInput, signature.hex, publicKey, { hash: true, der: signature.der, userId: defaultSm2UserId })),
  );
  if (!verified) throw new errors.JWSSignatureVerificationFailed();
  // The signature is good; what is left is the claims check. jose runs it on an unsecured JWT built here from the
  // verified payload (never from client input as such), so the rules are jose's, unchanged.
  const unsecured = `${Buffer.from('{"alg":"none"}').toString("base64url")}.${encodedPayload}.`;
  return UnsecuredJWT.decode(unsecured, options).payload;
}

function decodeJson(part: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(part, "base64url").toString("utf8"));
  } catch {
    throw new errors.JWSInvalid("JWS Protected Header is invalid");
  }
  if (value === null || typeof value !== "object" || Array.isArray(value)) throw new errors.JWSInvalid("JWS Protected Header is invalid");
  return value as Record<string, unknown>;
}

/** r‖s (64 bytes, the JWS convention) or, as some signers emit, an ASN.1 DER SEQUENCE {r, s}. */
function signatureHex(encoded: string): { hex: string; der: boolean } {
  if (!/^[A-Za-z0-9_-]*$/.test(encoded)) throw new errors.JWSInvalid("signature is not base64url");
  const bytes = Buffer.from(encoded, "base64url");
  if (bytes.length === 64) return { hex: bytes.toString("hex"), der: false };
  if (bytes.length >= 8 && bytes.length <= 72 && bytes[0] === 0x30 && bytes[1] === bytes.length - 2) return { hex: bytes.toString("hex"), der: true };
  throw new errors.JWSSignatureVerificationFailed();
}

/** sm-crypto-v2 throws on some malformed inputs (e.g. a DER it cannot parse); that is a failed verification. */
function safeVerify(verify: () => boolean): boolean {
  try {
    return verify();
  } catch {
    return false;
  }
}
