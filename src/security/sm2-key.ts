// Reads SM2 keys (OID 1.2.156.10197.1.301) from PEM (SPKI, PKCS#8, SEC1) and JWK (kty EC, crv SM2) into the hex sm-crypto-v2 uses.
import { sm2 } from "sm-crypto-v2";

/** DER of the SM2 curve OID 1.2.156.10197.1.301. */
const sm2Oid = Buffer.from("06082a811ccf5501822d", "hex");

interface Tlv {
  tag: number;
  value: Buffer;
}

/** The TLVs directly inside `data` (a minimal DER reader: definite lengths only, which DER requires). */
function children(data: Buffer): Tlv[] {
  const items: Tlv[] = [];
  let at = 0;
  while (at < data.length) {
    const tag = data[at] as number;
    let length = data[at + 1];
    if (length === undefined) throw new Error("truncated DER");
    at += 2;
    if (length & 0x80) {
      const bytes = length & 0x7f;
      if (bytes === 0 || bytes > 3 || at + bytes > data.length) throw new Error("unsupported DER length");
      length = data.readUIntBE(at, bytes);
      at += bytes;
    }
    if (at + length > data.length) throw new Error("truncated DER");
    items.push({ tag, value: data.subarray(at, at + length) });
    at += length;
  }
  return items;
}

function pemBody(pem: string): { label: string; der: Buffer } | undefined {
  const match = /-----BEGIN ([A-Z ]+)-----([\s\S]*?)-----END \1-----/.exec(pem);
  if (!match) return undefined;
  return { label: match[1] as string, der: Buffer.from((match[2] as string).replace(/\s+/g, ""), "base64") };
}

/** Whether an AlgorithmIdentifier names SM2 (id-ecPublicKey with the SM2 curve, or the SM2 OID alone). */
function namesSm2(algorithm: Tlv | undefined): boolean {
  return algorithm?.tag === 0x30 && algorithm.value.includes(sm2Oid);
}

function checkedPublicKey(hex: string): string {
  let onCurve = false;
  try {
    onCurve = /^04[0-9a-f]{128}$/.test(hex) && sm2.verifyPublicKey(hex);
  } catch {
    // sm-crypto-v2 throws for some points off the curve rather than answering false.
  }
  if (!onCurve) throw new Error("the SM2 public key is not a point on the curve");
  return hex;
}

/**
 * The uncompressed public key (04‖x‖y, hex) of an SM2 PEM public key, or undefined when the PEM is not an SM2 key
 * (then it is some other key type, for node:crypto to read). Throws when it is SM2 but malformed.
 */
export function sm2PublicKeyFromPem(pem: string): string | undefined {
  const body = pemBody(pem);
  if (!body || body.label !== "PUBLIC KEY") return undefined;
  try {
    const [spki] = children(body.der);
    const [algorithm, bits] = children(spki?.value ?? Buffer.alloc(0));
    if (!namesSm2(algorithm)) return undefined;
    if (!bits || bits.tag !== 0x03 || bits.value[0] !== 0) throw new Error("no public key bit string");
    return checkedPublicKey(bits.value.subarray(1).toString("hex"));
  } catch (error) {
    throw new Error(`malformed SM2 public key (${(error as Error).message})`);
  }
}

/** An SM2 private key from PEM (PKCS#8 or SEC1 "EC PRIVATE KEY" on the SM2 curve) as hex, with its public key; undefined when not SM2. */
export function sm2PrivateKeyFromPem(pem: string): { privateKey: string; publicKey: string } | undefined {
  const body = pemBody(pem);
  if (!body) return undefined;
  let ecPrivateKey: Buffer;
  if (body.label === "PRIVATE KEY") {
    const [pkcs8] = children(body.der);
    const [, algorithm, octets] = children(pkcs8?.value ?? Buffer.alloc(0));
    if (!namesSm2(algorithm) || octets?.tag !== 0x04) return undefined;
    ecPrivateKey = octets.value;
  } else if (body.label === "EC PRIVATE KEY") {
    if (!body.der.includes(sm2Oid)) return undefined;
    ecPrivateKey = body.der;
  } else {
    return undefined;
  }
  const [sequence] = children(ecPrivateKey);
  const [, secret] = children(sequence?.value ?? Buffer.alloc(0));
  if (!secret || secret.tag !== 0x04 || secret.value.length === 0 || secret.value.length > 32) throw new Error("malformed SM2 private key");
  const privateKey = secret.value.toString("hex").padStart(64, "0");
  return { privateKey, publicKey: sm2.getPublicKeyFromPrivateKey(privateKey) };
}

/** Whether a JWK is an SM2 key (kty EC, crv SM2). */
export function isSm2Jwk(jwk: { kty?: unknown; crv?: unknown }): boolean {
  return jwk.kty === "EC" && jwk.crv === "SM2";
}

/** The public key (04‖x‖y, hex) of an SM2 JWK; throws when x or y is missing or off the curve. */
export function sm2PublicKeyFromJwk(jwk: { x?: unknown; y?: unknown }): string {
  const coordinate = (value: unknown, name: string): string => {
    if (typeof value !== "string") throw new Error(`SM2 key has no ${name}`);
    const bytes = Buffer.from(value, "base64url");
    if (bytes.length !== 32) throw new Error(`SM2 key ${name} is not 32 bytes`);
    return bytes.toString("hex");
  };
  return checkedPublicKey(`04${coordinate(jwk.x, "x")}${coordinate(jwk.y, "y")}`);
}
