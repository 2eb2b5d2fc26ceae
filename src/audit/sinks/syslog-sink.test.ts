// The syslog sink's delivery rule over plain TCP: writes count only after the connection outlived them; a drop loses the unconfirmed ones for a resend.
import net from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { silentLogger } from "../../logging/logger.js";
import type { StoredAuditRecord } from "../audit-record.js";
import { SyslogSink } from "./syslog-sink.js";

function records(from: number, count: number): StoredAuditRecord[] {
  return Array.from({ length: count }, (_, index) => ({ sequence: from + index, recordedAt: 0, kind: "request" as const, body: {}, hash: "0".repeat(64) }));
}

interface Receiver {
  port: number;
  /** Bytes each connection delivered to this program, in order of connection. */
  received: string[];
  sockets: net.Socket[];
  /** Whether a new connection is read (false: the kernel buffers what arrives, as for a stalled receiver). */
  reading: boolean;
  close(): Promise<void>;
}

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function receiver(): Promise<Receiver> {
  const state: Receiver = { port: 0, received: [], sockets: [], reading: true, close: async () => undefined };
  const server = net.createServer((socket) => {
    const index = state.received.push("") - 1;
    state.sockets.push(socket);
    socket.on("error", () => undefined);
    socket.on("end", () => socket.end());
    socket.on("data", (chunk: Buffer) => (state.received[index] += chunk.toString("utf8")));
    if (!state.reading) socket.pause();
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  state.port = (server.address() as net.AddressInfo).port;
  state.close = async () => {
    for (const socket of state.sockets) socket.destroy();
    await new Promise((resolve) => server.close(resolve));
  };
  cleanups.push(() => state.close());
  return state;
}

function sink(port: number, settleMs: number, notify: () => void = () => undefined): SyslogSink {
  const created = new SyslogSink(
    { type: "syslog", url: `tcp://127.0.0.1:${port}`, app_name: "clawbot", facility: 13 },
    { nodeId: "node-a", baseDir: "/", logger: silentLogger, notify },
    { settleMs, connectTimeoutMs: 2_000, writeTimeoutMs: 2_000, closeWaitMs: 1_000 },
  );
  cleanups.push(() => created.close());
  return created;
}

async function until(condition: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

const sequencesIn = (text: string) => [...text.matchAll(/seq="(\d+)"/g)].map((match) => Number(match[1]));

describe("syslog sink over TCP", () => {
  it("frames each record with its octet count and confirms a write once the connection outlived it", async () => {
    const server = await receiver();
    const shipped = sink(server.port, 100);
    await shipped.send(records(1, 3));
    expect(shipped.confirmed()).toBe(0);
    expect(shipped.pendingConfirmationMs()).toBeGreaterThan(0);
    await until(() => sequencesIn(server.received[0] ?? "").length === 3, "3 messages");
    expect(server.received[0]).toMatch(/^\d+ <110>1 \S+ node-a clawbot \d+ request \[clawbot@32473 seq="1" /);
    await until(() => shipped.pendingConfirmationMs() === 0, "the settle time to pass");
    expect(shipped.confirmed()).toBe(3);
    expect(shipped.takeLoss()).toBeUndefined();
  });

  it("reports the loss of unconfirmed writes when a stalled receiver drops the connection, so they are sent again", async () => {
    const server = await receiver();
    server.reading = false;
    let notified = 0;
    const shipped = sink(server.port, 60_000, () => notified++);
    await shipped.send(records(1, 4));
    // The kernel took the bytes; the receiving program never read them.
    await until(() => server.sockets.length === 1, "the connection");
    server.sockets[0]?.resetAndDestroy();
    await until(() => notified > 0, "the sink to notice the drop");
    expect(shipped.takeLoss()).toBeInstanceOf(Error);
    expect(shipped.takeLoss()).toBeUndefined();
    expect(shipped.confirmed()).toBe(0);
    expect(server.received[0]).toBe("");
    server.reading = true;
    await shipped.send(records(1, 4));
    await until(() => sequencesIn(server.received[1] ?? "").length === 4, "the resend on a new connection");
    expect(sequencesIn(server.received[1] ?? "")).toEqual([1, 2, 3, 4]);
  });

  it("confirms everything written when the receiver closes its side after ours on close", async () => {
    const server = await receiver();
    const shipped = sink(server.port, 60_000);
    await shipped.send(records(1, 2));
    await shipped.send(records(3, 2));
    expect(shipped.confirmed()).toBe(0);
    await shipped.close();
    expect(shipped.confirmed()).toBe(4);
    expect(sequencesIn(server.received[0] ?? "")).toEqual([1, 2, 3, 4]);
  });

  it("rejects a send when nothing listens", async () => {
    const server = await receiver();
    await server.close();
    const shipped = sink(server.port, 100);
    await expect(shipped.send(records(1, 1))).rejects.toThrow(/ECONNREFUSED/);
    expect(shipped.confirmed()).toBe(0);
  });
});
