// Staged rollout: internal roles only, a stable hashed share of everyone else, then all.
import { describe, expect, it } from "vitest";
import { rolloutAdmits, rolloutPosition } from "./rollout.js";

const subjects = Array.from({ length: 10_000 }, (_, index) => `user-${index}@example.org`);
const limited = (percent: number) => ({ stage: "limited" as const, allow_roles: ["staff"], percent });

describe("rollout", () => {
  it("lets in about `percent` of subjects: 10,000 subjects at 30 % → between 27 and 33 %", () => {
    const admitted = subjects.filter((subject) => rolloutAdmits(limited(30), subject, [])).length;
    expect(admitted / subjects.length).toBeGreaterThan(0.27);
    expect(admitted / subjects.length).toBeLessThan(0.33);
  });

  it("is stable, and raising the percentage only adds subjects", () => {
    const at10 = subjects.filter((subject) => rolloutAdmits(limited(10), subject, []));
    expect(subjects.filter((subject) => rolloutAdmits(limited(10), subject, []))).toEqual(at10);
    const at30 = new Set(subjects.filter((subject) => rolloutAdmits(limited(30), subject, [])));
    for (const subject of at10) expect(at30.has(subject)).toBe(true);
    expect(at30.size).toBeGreaterThan(at10.length);
    expect(rolloutPosition("alice")).toBe(rolloutPosition("alice"));
    expect(rolloutPosition("alice")).not.toBe(rolloutPosition("bob"));
  });

  it("lets allowed roles in at every stage, nobody else at internal, everybody at all", () => {
    const internal = { stage: "internal" as const, allow_roles: ["staff"], percent: 100 };
    expect(rolloutAdmits(internal, "alice", ["staff"])).toBe(true);
    expect(subjects.some((subject) => rolloutAdmits(internal, subject, ["guest"]))).toBe(false);
    expect(subjects.every((subject) => rolloutAdmits(limited(0), subject, ["staff"]))).toBe(true);
    expect(subjects.some((subject) => rolloutAdmits(limited(0), subject, []))).toBe(false);
    expect(subjects.every((subject) => rolloutAdmits({ stage: "all", allow_roles: [], percent: 0 }, subject, []))).toBe(true);
  });
});
