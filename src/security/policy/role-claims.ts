// The roles a principal holds under the policy: the values of the configured JWT claims (security.role_claims).
import type { Principal } from "../../core/types.js";

/**
 * Each claim named in `roleClaims` (a dotted path reaches a nested claim, e.g. `realm_access.roles`) gives its string,
 * or each string of its list; other values give nothing. A principal without claims (auth `none`) keeps its roles.
 */
export function rolesOf(principal: Principal, roleClaims: readonly string[]): string[] {
  if (Object.keys(principal.claims).length === 0) return [...new Set(principal.roles)];
  const roles = new Set<string>();
  for (const claim of roleClaims) {
    const value = claimAt(principal.claims, claim);
    if (typeof value === "string" && value !== "") roles.add(value);
    else if (Array.isArray(value)) for (const item of value) if (typeof item === "string" && item !== "") roles.add(item);
  }
  return [...roles];
}

function claimAt(claims: Record<string, unknown>, claim: string): unknown {
  if (Object.hasOwn(claims, claim)) return claims[claim];
  let value: unknown = claims;
  for (const part of claim.split(".")) {
    if (value === null || typeof value !== "object" || Array.isArray(value) || !Object.hasOwn(value, part)) return undefined;
    value = (value as Record<string, unknown>)[part];
  }
  return value;
}
