// Unit tests of SubjectLimits: the per-subject request cap and the queue share it hands the engine.
import { describe, expect, it } from "vitest";
import { SubjectLimits } from "./subject-limits.js";

describe("SubjectLimits", () => {
  it("refuses a subject past max_requests_per_subject, not the others, and counts releases once", () => {
    const limits = new SubjectLimits({ max_requests_per_subject: 2, queue_share_per_subject: 0.5 });
    const first = limits.admit("alice");
    limits.admit("alice");
    expect(() => limits.admit("alice")).toThrow(expect.objectContaining({ code: "overloaded", message: expect.stringContaining("per-user limit is 2") }));
    const bob = limits.admit("bob");
    expect(limits.subjects).toBe(2);
    first();
    first();
    expect(limits.requests("alice")).toBe(1);
    limits.admit("alice");
    expect(limits.requests("alice")).toBe(2);
    bob();
    expect(limits.requests("bob")).toBe(0);
    expect(limits.subjects).toBe(1);
  });

  it("gives each subject ceil(queue_share_per_subject × max_queue) queue places", () => {
    expect(new SubjectLimits({ max_requests_per_subject: 16, queue_share_per_subject: 0.5 }).queueOwner("alice", 5)).toEqual({ key: "alice", maxQueued: 3 });
    expect(new SubjectLimits({ max_requests_per_subject: 16, queue_share_per_subject: 0.1 }).queueOwner("bob", 1)).toEqual({ key: "bob", maxQueued: 1 });
    expect(new SubjectLimits({ max_requests_per_subject: 16, queue_share_per_subject: 1 }).queueOwner("carol", 64).maxQueued).toBe(64);
  });
});
