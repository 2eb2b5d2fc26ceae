// Staged rollout of a gateway: internal roles only, then a stable share of the other subjects, then everyone.
import { createHash } from "node:crypto";
import type { RolloutConfig } from "../../config/schema.js";

/**
 * Where a subject falls in [0, 100): the first 32 bits of SM3(subject) scaled. Stable across restarts and nodes, and
 * the same on every gateway, so raising `percent` only adds subjects (those let in at 10 % stay in at 30 %).
 */
export function rolloutPosition(subject: string): number {
  return (createHash("sm3").update(subject, "utf8").digest().readUInt32BE(0) / 2 ** 32) * 100;
}

/** Whether a rollout stage lets this subject (with these roles) in. */
export function rolloutAdmits(rollout: RolloutConfig, subject: string, roles: readonly string[]): boolean {
  if (rollout.stage === "all") return true;
  if (roles.some((role) => rollout.allow_roles.includes(role))) return true;
  return rollout.stage === "limited" && rolloutPosition(subject) < rollout.percent;
}

/** Why a rollout refused: names the gateway, the stage and who it lets in. */
export function rolloutRefusal(gateway: string, rollout: RolloutConfig): string {
  const roles = rollout.allow_roles.length > 0 ? `roles ${rollout.allow_roles.join(", ")}` : "no role";
  const share = rollout.stage === "limited" ? ` and ${rollout.percent} % of other users` : "";
  return `The ${gateway} gateway is at rollout stage ${rollout.stage}: it lets in ${roles}${share}, not this subject yet.`;
}
