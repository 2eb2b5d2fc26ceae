// Shared pieces of the in-process cluster tests: one real nats-server per test file (and a plain client of it),
// cleanups after each test, a logger whose JSON lines a test can read, and polling for what replicates asynchronously.
import { Writable } from "node:stream";
import { connect, type NatsConnection } from "nats";
import pino, { type Logger } from "pino";
import { afterAll, afterEach, beforeAll } from "vitest";
import { NatsServer } from "./nats-server.js";

export interface NatsFixture {
  /** The file's nats-server (started before its first test, removed after its last). */
  readonly server: NatsServer;
  /** A plain client of it, for what a test writes or reads around the code under test. */
  readonly raw: NatsConnection;
  /** Run in reverse order after each test (their failures ignored). */
  readonly cleanups: (() => Promise<unknown>)[];
}

/** Registers the file's hooks: a JetStream server and a client before all tests, the cleanups after each. */
export function useNatsServer(): NatsFixture {
  let server: NatsServer | undefined;
  let raw: NatsConnection | undefined;
  const cleanups: (() => Promise<unknown>)[] = [];
  beforeAll(async () => {
    server = await NatsServer.start();
    raw = await connect({ servers: server.url });
  });
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => undefined);
  });
  afterAll(async () => {
    await raw?.close();
    await server?.close();
  });
  return {
    get server() {
      if (!server) throw new Error("the nats-server is not started yet (use it inside a test)");
      return server;
    },
    get raw() {
      if (!raw) throw new Error("the NATS client is not connected yet (use it inside a test)");
      return raw;
    },
    cleanups,
  };
}

/** A pino logger at info whose lines are parsed into `lines` as they are written. */
export function capturingLogger<Line = Record<string, unknown>>(): { logger: Logger; lines: Line[] } {
  const lines: Line[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString("utf8").split("\n")) if (line) lines.push(JSON.parse(line) as Line);
      done();
    },
  });
  return { logger: pino({ level: "info" }, stream), lines };
}

/** Polls until `check` stops throwing (replication is asynchronous), up to `timeoutMs`; then throws its last error. */
export async function eventually(check: () => void, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      check();
      return;
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
}
