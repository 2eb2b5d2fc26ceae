// In a cluster every node's audit records go to the cluster's audit stream from their own cursor: in order, each once,
// and the ones written while NATS was down follow when it is back.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { AckPolicy, DeliverPolicy, type JsMsg } from "nats";
import { afterEach, describe, expect, it } from "vitest";
import { openAuditTrail, type AuditTrail } from "../../src/audit/audit-trail.js";
import type { AuditSinkContext } from "../../src/audit/sinks/audit-sink.js";
import { ClusterAuditSink } from "../../src/cluster/cluster-audit-sink.js";
import { clusterNames } from "../../src/cluster/cluster-names.js";
import { openNatsLink, type NatsLink } from "../../src/cluster/nats-connection.js";
import { auditSchema } from "../../src/config/schema.js";
import { clusterSchema } from "../../src/config/cluster-schema.js";
import { silentLogger } from "../../src/logging/logger.js";
import { openDatabase, type SqliteDatabase } from "../../src/store/database.js";
import { NatsServer } from "../helpers/nats-server.js";

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function until<T>(read: () => Promise<T | undefined> | T | undefined, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error("timed out waiting");
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

interface StreamRecord {
  sequence: number;
  kind: string;
  node_id: string;
  hash: string;
  body: Record<string, unknown>;
}

/** Every record (not checkpoint) in the audit stream, in stream order. */
async function streamRecords(link: NatsLink, stream: string): Promise<StreamRecord[]> {
  const session = await link.ready;
  const info = await session.manager.streams.info(stream).catch(() => undefined);
  if (!info || info.state.messages === 0) return [];
  const consumer = await session.manager.consumers.add(stream, { ack_policy: AckPolicy.None, deliver_policy: DeliverPolicy.All, inactive_threshold: 5_000_000_000 });
  const reader = await session.jetstream.consumers.get(stream, consumer.name);
  const messages: JsMsg[] = [];
  const batch = await reader.fetch({ max_messages: info.state.messages, expires: 2000 });
  for await (const message of batch) messages.push(message);
  return messages.map((message) => message.json<StreamRecord>()).filter((record) => record.kind !== "checkpoint");
}

describe("the cluster audit sink", () => {
  it("ships every record in order, once, and catches up after NATS was down", async () => {
    const server = await NatsServer.start();
    cleanups.push(() => server.close());
    const directory = fs.mkdtempSync(path.join(os.tmpdir(), "clawbot-cluster-audit-"));
    cleanups.push(() => fs.rmSync(directory, { recursive: true, force: true }));
    const config = clusterSchema.parse({ nats: server.url, name: "audit-test", node_id: "n1" });
    const names = clusterNames(config);
    const link = openNatsLink(config, { nodeId: "n1", logger: silentLogger });
    cleanups.push(() => link.close());
    const database: SqliteDatabase = openDatabase(directory);
    cleanups.push(() => void database.close());
    const audit: AuditTrail = openAuditTrail(auditSchema.parse({}), {
      database,
      nodeId: "n1",
      logger: silentLogger,
      baseDir: directory,
      extraSinks: [(context: AuditSinkContext) => new ClusterAuditSink({ link, names, nodeId: "n1", replicas: 1 }, context)],
    });
    cleanups.push(() => audit.close());
    for (let index = 0; index < 5; index += 1) audit.recordLifecycle("start", { attempt: index });
    const first = await until(async () => {
      const records = await streamRecords(link, names.auditStream);
      return records.length >= 5 ? records : undefined;
    });
    expect(first.map((record) => record.sequence)).toEqual([1, 2, 3, 4, 5]);
    expect(first.every((record) => record.node_id === "n1")).toBe(true);
    expect(first.map((record) => record.body.attempt)).toEqual([0, 1, 2, 3, 4]);

    // NATS goes away: records keep being written locally; the sink reports the failure and resends when it is back.
    await server.stop();
    for (let index = 5; index < 8; index += 1) audit.recordLifecycle("start", { attempt: index });
    await until(() => (audit.status().sinks.some((sink) => sink.type === "cluster" && sink.backlog > 0) ? true : undefined));
    await server.resume();
    const all = await until(async () => {
      const records = await streamRecords(link, names.auditStream).catch(() => []);
      return records.length >= 8 ? records : undefined;
    }, 30_000);
    expect(all.map((record) => record.sequence)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    // The stream holds the ledger's own hashes: the chain can be checked from the stream alone.
    const ledger = database.prepare<[], { sequence: number; hash: string }>("SELECT sequence, hash FROM audit_records ORDER BY sequence").all();
    expect(all.map((record) => [record.sequence, record.hash])).toEqual(ledger.map((row) => [row.sequence, row.hash]));
  }, 60_000);
});
