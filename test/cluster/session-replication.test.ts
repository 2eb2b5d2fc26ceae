// Sessions replicate through the JetStream sessions stream between two nodes (two SQLite databases, two NATS links).
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { connect } from "nats";
import { afterEach, describe, expect, it } from "vitest";
import { clusterNames } from "../../src/cluster/cluster-names.js";
import { openNatsLink, type NatsLink } from "../../src/cluster/nats-connection.js";
import { ownerKey, startReplicatedSessions, type ReplicatedSessions } from "../../src/cluster/replicated-sessions.js";
import { clusterSchema } from "../../src/config/cluster-schema.js";
import { eraseSubject } from "../../src/daemon/subject-erasure.js";
import { silentLogger } from "../../src/logging/logger.js";
import { openDatabase, type SqliteDatabase } from "../../src/store/database.js";
import { SessionRepository } from "../../src/store/session-repository.js";
import { eventually, useNatsServer } from "../helpers/cluster-test-kit.js";

interface TestNode {
  id: string;
  dir: string;
  database: SqliteDatabase;
  local: SessionRepository;
  link: NatsLink;
  replica: ReplicatedSessions;
  close(): Promise<void>;
}

const nats = useNatsServer();
const open: TestNode[] = [];
let clusterCount = 0;

afterEach(async () => {
  for (const node of open.splice(0)) await node.close();
});

function startNode(cluster: string, id: string, dir = fs.mkdtempSync(path.join(os.tmpdir(), "clawbot-sessions-"))): TestNode {
  const config = clusterSchema.parse({ nats: nats.server.url, name: cluster, node_id: id });
  const database = openDatabase(dir);
  const local = new SessionRepository(database, { maxMessages: 100, retentionMs: 24 * 3600 * 1000 });
  const link = openNatsLink(config, { nodeId: id, logger: silentLogger });
  const replica = startReplicatedSessions({ link, names: clusterNames(config), nodeId: id, replicas: 1, local, logger: silentLogger });
  let closed = false;
  const node: TestNode = {
    id,
    dir,
    database,
    local,
    link,
    replica,
    async close() {
      if (closed) return;
      closed = true;
      await replica.close();
      await link.close();
      database.close();
    },
  };
  open.push(node);
  return node;
}

const cluster = () => `sessions${++clusterCount}`;
const texts = (node: TestNode, owner: string, session: string) => node.replica.store.history(owner, session).map((message) => `${message.role}:${message.content}`);

describe("replicated sessions", () => {
  it("an exchange stored on A is in B's history, and B's next turn follows it on A, tool steps and counts included", async () => {
    const name = cluster();
    const a = startNode(name, "node-a");
    const b = startNode(name, "node-b");
    await Promise.all([a.replica.started, b.replica.started]);
    const steps = [
      { role: "assistant" as const, content: "", toolCalls: [{ id: "call_1", name: "clock", arguments: "{}" }] },
      { role: "tool" as const, content: "12:00", toolCallId: "call_1", name: "clock" },
    ];
    a.replica.store.appendExchange("alice", "s1", "what time is it?", "noon", { user: 5, assistant: 2, countedBy: "echo" }, steps);
    await eventually(() => expect(texts(b, "alice", "s1")).toEqual(["user:what time is it?", "assistant:", "tool:12:00", "assistant:noon"]));
    expect(b.local.history("alice", "s1")[1]?.toolCalls).toEqual(steps[0]?.toolCalls);
    b.replica.store.appendExchange("alice", "s1", "and tomorrow?", "noon too");
    await eventually(() => expect(texts(a, "alice", "s1")).toEqual(texts(b, "alice", "s1")));
    expect(texts(a, "alice", "s1").slice(-2)).toEqual(["user:and tomorrow?", "assistant:noon too"]);
    // Neither applied its own change a second time.
    expect(a.replica.stats()).toMatchObject({ published: 1, applied: 1, skipped: 0 });
    expect(b.replica.stats()).toMatchObject({ published: 1, applied: 1, skipped: 0 });
  });

  it("an exchange whose transaction rolled back is not published", async () => {
    const name = cluster();
    const a = startNode(name, "node-a");
    const b = startNode(name, "node-b");
    await Promise.all([a.replica.started, b.replica.started]);
    expect(() =>
      a.database.transaction(() => {
        a.replica.store.appendExchange("bob", "s", "lost question", "lost answer");
        throw new Error("the audit record failed");
      })(),
    ).toThrow("the audit record failed");
    a.replica.store.appendExchange("bob", "s", "kept question", "kept answer");
    await eventually(() => expect(texts(b, "bob", "s")).toEqual(["user:kept question", "assistant:kept answer"]));
    expect(a.replica.stats().published).toBe(1);
  });

  it("a node that was stopped catches up when it comes back, and changes made while NATS was down are sent when it is back", async () => {
    const name = cluster();
    const a = startNode(name, "node-a");
    let b = startNode(name, "node-b");
    await Promise.all([a.replica.started, b.replica.started]);
    const bDir = b.dir;
    await b.close();
    a.replica.store.appendExchange("carol", "s", "while B was away", "noted");
    await a.replica.flushed();
    b = startNode(name, "node-b", bDir);
    await eventually(() => expect(texts(b, "carol", "s")).toEqual(["user:while B was away", "assistant:noted"]));

    await nats.server.stop();
    a.replica.store.appendExchange("carol", "s", "while NATS was down", "queued");
    await new Promise((resolve) => setTimeout(resolve, 100));
    try {
      expect(a.replica.stats().pending).toBe(1);
    } finally {
      await nats.server.resume();
    }
    await eventually(() => expect(texts(b, "carol", "s").slice(-2)).toEqual(["user:while NATS was down", "assistant:queued"]));
    expect(b.replica.stats().applied).toBe(2);
  }, 40_000);

  it("clear and erasure replicate, and an erased subject does not come back to a node that joins later", async () => {
    const name = cluster();
    const a = startNode(name, "node-a");
    const b = startNode(name, "node-b");
    await Promise.all([a.replica.started, b.replica.started]);
    a.replica.store.appendExchange("dave", "one", "q1", "a1");
    a.replica.store.appendExchange("dave", "two", "q2", "a2");
    a.replica.store.appendExchange("erin", "one", "q3", "a3");
    await eventually(() => expect(texts(b, "erin", "one")).toHaveLength(2));
    await eventually(() => expect(texts(b, "dave", "two")).toHaveLength(2));
    b.replica.store.clear("dave", "one");
    await eventually(() => expect(texts(a, "dave", "one")).toEqual([]));

    const eraser = a.replica.store.eraser;
    expect(eraser).toBeDefined();
    eraseSubject({ database: a.database, dataDir: a.dir, subject: "dave", by: "test", erasers: [eraser!] });
    expect(texts(a, "dave", "two")).toEqual([]);
    await eventually(() => expect(texts(b, "dave", "two")).toEqual([]));
    await a.replica.flushed();
    // The stream keeps only the erasure of dave's changes (his texts were purged from it).
    const raw = await connect({ servers: nats.server.url });
    try {
      const names = clusterNames({ name });
      const info = await (await raw.jetstreamManager()).streams.info(names.sessionsStream, { subjects_filter: `${names.sessionsSubject}.*.${ownerKey("dave")}` });
      expect(Object.values(info.state.subjects ?? {})).toEqual([1]);
    } finally {
      await raw.close();
    }

    // A node whose consumer starts from the beginning of the stream: dave's changes were purged, erin's are there.
    const c = startNode(name, "node-c");
    await eventually(() => expect(texts(c, "erin", "one")).toEqual(["user:q3", "assistant:a3"]));
    expect(texts(c, "dave", "one")).toEqual([]);
    expect(texts(c, "dave", "two")).toEqual([]);
  }, 30_000);

  it("skips malformed and hostile messages on the sessions subjects and goes on applying", async () => {
    const name = cluster();
    const a = startNode(name, "node-a");
    const b = startNode(name, "node-b");
    await Promise.all([a.replica.started, b.replica.started]);
    const names = clusterNames({ name });
    const raw = await connect({ servers: nats.server.url });
    try {
      const jetstream = raw.jetstream();
      const garbage = [
        new Uint8Array([0xff, 0x00, 0x13]),
        new TextEncoder().encode("{}"),
        new TextEncoder().encode(JSON.stringify({ v: 1, origin: "evil", change: { kind: "exchange", owner: "x" } })),
        new TextEncoder().encode(JSON.stringify({ v: 1, origin: "evil", change: { kind: "erase", owner: "" } })),
        new TextEncoder().encode(JSON.stringify({ v: 1, origin: "../../etc", change: { kind: "clear", owner: "x", session: "y" } })),
      ];
      for (const data of garbage) await jetstream.publish(`${names.sessionsSubject}.evil.x`, data);
    } finally {
      await raw.close();
    }
    a.replica.store.appendExchange("frank", "s", "still there?", "yes");
    await eventually(() => expect(texts(b, "frank", "s")).toEqual(["user:still there?", "assistant:yes"]));
    expect(b.replica.stats().skipped).toBe(5);
  });
});
