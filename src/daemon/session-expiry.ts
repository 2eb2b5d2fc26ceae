// The periodic job that deletes sessions past their retention period: once at start, then every interval.
import type { Logger } from "../logging/logger.js";
import type { SessionRepository } from "../store/session-repository.js";

/** How often expired sessions are looked for. */
export const sessionExpiryIntervalMs = 60 * 60 * 1000;

export interface SessionExpiry {
  /** Stops the timer and waits for a run in progress. */
  stop(): Promise<void>;
}

export function startSessionExpiry(sessions: SessionRepository, logger: Logger, intervalMs = sessionExpiryIntervalMs): SessionExpiry {
  let running: Promise<void> = Promise.resolve();
  let stopped = false;
  const run = () => {
    // One run at a time; the job owns its errors (a full disk is logged, and the next run tries again).
    running = running.then(async () => {
      if (stopped) return;
      try {
        const deleted = await sessions.deleteExpired();
        if (deleted > 0) logger.info({ messages: deleted }, "deleted expired sessions");
      } catch (error) {
        logger.error({ err: error }, "could not delete expired sessions");
      }
    });
  };
  run();
  const timer = setInterval(run, intervalMs);
  // The job never keeps the process alive on its own.
  timer.unref();
  return {
    async stop() {
      stopped = true;
      clearInterval(timer);
      await running;
    },
  };
}
