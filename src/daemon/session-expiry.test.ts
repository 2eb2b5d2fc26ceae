// The expiry job runs once at start, then every interval, owns its errors, and stops at close.
import { describe, expect, it, vi } from "vitest";
import { silentLogger } from "../logging/logger.js";
import type { SessionRepository } from "../store/session-repository.js";
import { startSessionExpiry } from "./session-expiry.js";

describe("startSessionExpiry", () => {
  it("runs at start and every interval until stopped, and a failing run does not stop the next", async () => {
    vi.useFakeTimers();
    try {
      let runs = 0;
      const sessions = {
        deleteExpired: async () => {
          runs += 1;
          if (runs === 2) throw new Error("database or disk is full");
          return 0;
        },
      } as unknown as SessionRepository;
      const error = vi.spyOn(silentLogger, "error");
      const job = startSessionExpiry(sessions, silentLogger, 1000);
      await vi.advanceTimersByTimeAsync(0);
      expect(runs).toBe(1);
      await vi.advanceTimersByTimeAsync(1000);
      expect(runs).toBe(2);
      expect(error).toHaveBeenCalledWith(expect.objectContaining({ err: expect.any(Error) }), "could not delete expired sessions");
      await vi.advanceTimersByTimeAsync(1000);
      expect(runs).toBe(3);
      await job.stop();
      await vi.advanceTimersByTimeAsync(5000);
      expect(runs).toBe(3);
      error.mockRestore();
    } finally {
      vi.useRealTimers();
    }
  });
});
