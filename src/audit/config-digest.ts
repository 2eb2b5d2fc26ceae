// An SM3 digest of the effective config for the start record: changes with any setting, reveals no secret.
import { canonicalJson, sm3Hex } from "./audit-canonical.js";

/**
 * Keys whose values are (or may hold) secrets: JWT secrets, metrics and sink tokens, HTTP headers (Authorization),
 * passwords, private keys. Their values are left out of the digest, so it cannot be used to guess a short secret.
 */
const secretKey = /secret|token|password|passphrase|credential|authorization|cookie|api_?key|private|^key$|^headers$/i;

/** The config with every secret value replaced by "[secret]". */
export function withoutSecrets(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(withoutSecrets);
  if (value === null || typeof value !== "object") return value;
  const result: Record<string, unknown> = {};
  for (const [key, member] of Object.entries(value as Record<string, unknown>)) {
    result[key] = secretKey.test(key) && member !== undefined && member !== null ? "[secret]" : withoutSecrets(member);
  }
  return result;
}

/** Hex SM3 of the canonical JSON of the config without its secrets. */
export function configDigest(config: unknown): string {
  // Through JSON first: whatever JSON cannot hold (undefined, Infinity) is dropped or null, as a config file would have it.
  return sm3Hex(canonicalJson(JSON.parse(JSON.stringify(withoutSecrets(config)) ?? "null")));
}
