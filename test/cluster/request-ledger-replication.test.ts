// The MQTT request ledger replicates through the JetStream ledger stream between two nodes (two SQLite databases, two NATS links).
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { connect } from "nats";
import { afterEach, describe, expect, it } from "vitest";
import { clusterNames } from "../../src/cluster/cluster-names.js";
import { openNatsLink, type NatsLink } from "../../src/cluster/nats-connection.js";
import { startReplicatedRequestLedger, type ReplicatedRequestLedger } from "../../src/cluster/replicated-request-ledger.js";
import { ownerKey } from "../../src/cluster/replicated-sessions.js";
import { clusterSchema } from "../../src/config/cluster-schema.js";
import { eraseSubject } from "../../src/daemon/subject-erasure.js";
import { silentLogger } from "../../src/logging/logger.js";
import { openDatabase, type SqliteDatabase } from "../../src/store/database.js";
import { RequestLedger } from "../../src/store/request-ledger.js";
import { eventually, useNatsServer } from "../helpers/cluster-test-kit.js";

interface TestNode {
  id: string;
  dir: string;
  database: SqliteDatabase;
  ledger: RequestLedger;
  link: NatsLink;
  replica: ReplicatedRequestLedger;
  close(): Promise<void>;
}

const nats = useNatsServer();
const open: TestNode[] = [];
let clusterCount = 0;
const gateway = "clawbot-ward";
const principal = { subject: "alice", roles: ["user"], scopes: ["chat"], claims: { sub: "alice" } };

afterEach(async () => {
  for (const node of open.splice(0)) await node.close();
});

function startNode(cluster: string, id: string, dir = fs.mkdtempSync(path.join(os.tmpdir(), "clawbot-ledger-"))): TestNode {
  const config = clusterSchema.parse({ nats: nats.server.url, name: cluster, node_id: id });
  const database = openDatabase(dir);
  const link = openNatsLink(config, { nodeId: id, logger: silentLogger });
  const replica = startReplicatedRequestLedger({ link, names: clusterNames(config), nodeId: id, replicas: 1, local: new RequestLedger(database), retentionMs: 3_600_000, logger: silentLogger });
  let closed = false;
  const node: TestNode = {
    id,
    dir,
    database,
    ledger: replica.ledger,
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

const cluster = () => `ledger${++clusterCount}`;
const entry = (requestId: string, owner = "alice") => ({
  gateway,
  owner,
  requestId,
  request: JSON.stringify({ type: "chat", id: requestId, message: `question ${requestId}` }),
  principal: { ...principal, subject: owner },
  expiresAt: 4_000_000_000_000,
  replyTopic: `clawbot/res/${owner}`,
  correlationData: Buffer.from("corr-" + requestId),
});
const exchanges = (node: TestNode) => {
  node.database.exec("CREATE TABLE IF NOT EXISTS exchanges (text TEXT NOT NULL)");
  return (text: string) => () => void node.database.prepare("INSERT INTO exchanges VALUES (?)").run(text);
};

describe("replicated request ledger", () => {
  it("a request accepted on A is unanswered on B, recorded carries its finish, and once answered B drops its duplicate", async () => {
    const name = cluster();
    const a = startNode(name, "node-a");
    const b = startNode(name, "node-b");
    await Promise.all([a.replica.started, b.replica.started]);
    expect(a.ledger.accept(entry("r1"))).toBe(true);
    a.ledger.accept(entry("r2"));
    await eventually(() => expect(b.ledger.unanswered(gateway).map((stored) => stored.requestId)).toEqual(["r1", "r2"]));
    const [fromA] = a.ledger.unanswered(gateway);
    expect(b.ledger.unanswered(gateway)[0]).toEqual(fromA);
    expect(b.ledger.unanswered(gateway)[0]).toMatchObject({ state: "accepted", principal, correlationData: Buffer.from("corr-r1"), replyTopic: "clawbot/res/alice" });

    const finish = JSON.stringify({ type: "finish", id: "r1", text: "the answer" });
    a.ledger.record(gateway, "alice", "r1", exchanges(a)("r1"), finish);
    await eventually(() => expect(b.ledger.unanswered(gateway)[0]).toMatchObject({ requestId: "r1", state: "recorded", finalFrame: finish }));
    a.ledger.markAnswered(gateway, "alice", "r1");
    await eventually(() => expect(b.ledger.state(gateway, "alice", "r1")).toBe("answered"));
    // The MQTT gateway's duplicate check on the node that took over: not accepted again, known as answered.
    expect(b.ledger.accept(entry("r1"))).toBe(false);
    expect(b.ledger.state(gateway, "alice", "r1")).toBe("answered");
    expect(b.ledger.unanswered(gateway).map((stored) => stored.requestId)).toEqual(["r2"]);

    // B answers r2 (it took over): A learns it; neither applied its own change again.
    b.ledger.markAnswered(gateway, "alice", "r2");
    await eventually(() => expect(a.ledger.unanswered(gateway)).toEqual([]));
    expect(a.replica.stats()).toMatchObject({ published: 4, applied: 1, skipped: 0 });
    expect(b.replica.stats()).toMatchObject({ published: 1, applied: 4, skipped: 0 });
  });

  it("forget replicates, and a record whose transaction rolled back is not published", async () => {
    const name = cluster();
    const a = startNode(name, "node-a");
    const b = startNode(name, "node-b");
    await Promise.all([a.replica.started, b.replica.started]);
    a.ledger.accept(entry("busy"));
    a.ledger.accept(entry("rolled-back"));
    await eventually(() => expect(b.ledger.unanswered(gateway)).toHaveLength(2));
    a.ledger.forget(gateway, "alice", "busy");
    expect(() =>
      a.database.transaction(() => {
        a.ledger.record(gateway, "alice", "rolled-back", exchanges(a)("lost"), '{"type":"finish"}');
        throw new Error("the audit record failed");
      })(),
    ).toThrow("the audit record failed");
    await eventually(() => expect(b.ledger.state(gateway, "alice", "busy")).toBeUndefined());
    await a.replica.flushed();
    expect(a.replica.stats().published).toBe(3);
    expect(b.ledger.state(gateway, "alice", "rolled-back")).toBe("accepted");
  });

  it("a node that was stopped catches up when it comes back", async () => {
    const name = cluster();
    const a = startNode(name, "node-a");
    let b = startNode(name, "node-b");
    await Promise.all([a.replica.started, b.replica.started]);
    const bDir = b.dir;
    await b.close();
    a.ledger.accept(entry("while-away"));
    a.ledger.accept(entry("answered-while-away"));
    a.ledger.markAnswered(gateway, "alice", "answered-while-away");
    await a.replica.flushed();
    b = startNode(name, "node-b", bDir);
    await eventually(() => expect(b.ledger.state(gateway, "alice", "answered-while-away")).toBe("answered"));
    expect(b.ledger.unanswered(gateway).map((stored) => stored.requestId)).toEqual(["while-away"]);
  });

  it("an erased subject's records go from every node and from the stream", async () => {
    const name = cluster();
    const a = startNode(name, "node-a");
    const b = startNode(name, "node-b");
    await Promise.all([a.replica.started, b.replica.started]);
    a.ledger.accept(entry("r1", "dave"));
    a.ledger.accept(entry("r1", "erin"));
    await eventually(() => expect(b.ledger.unanswered(gateway)).toHaveLength(2));
    const erased = eraseSubject({ database: a.database, dataDir: a.dir, subject: "dave", by: "test", erasers: [a.replica.eraser] });
    expect(erased.counts.mqtt_requests).toBe(1);
    await eventually(() => expect(b.ledger.state(gateway, "dave", "r1")).toBeUndefined());
    expect(b.ledger.state(gateway, "erin", "r1")).toBe("accepted");
    await a.replica.flushed();
    const raw = await connect({ servers: nats.server.url });
    try {
      const names = clusterNames({ name });
      const info = await (await raw.jetstreamManager()).streams.info(names.ledgerStream, { subjects_filter: `${names.ledgerSubject}.*.${ownerKey("dave")}` });
      // Only the erasure itself is left of dave's changes.
      expect(Object.values(info.state.subjects ?? {})).toEqual([1]);
    } finally {
      await raw.close();
    }
    const c = startNode(name, "node-c");
    await eventually(() => expect(c.ledger.state(gateway, "erin", "r1")).toBe("accepted"));
    expect(c.ledger.state(gateway, "dave", "r1")).toBeUndefined();
  });

  it("skips malformed and hostile messages on the ledger subjects and goes on applying", async () => {
    const name = cluster();
    const a = startNode(name, "node-a");
    const b = startNode(name, "node-b");
    await Promise.all([a.replica.started, b.replica.started]);
    const names = clusterNames({ name });
    const raw = await connect({ servers: nats.server.url });
    try {
      const jetstream = raw.jetstream();
      const change = (value: unknown) => new TextEncoder().encode(JSON.stringify({ v: 1, origin: "evil", change: value }));
      const garbage = [
        new Uint8Array([0xff, 0x00, 0x13]),
        new TextEncoder().encode("[]"),
        change({ kind: "accepted", gateway, owner: "x", request_id: "r" }),
        change({ kind: "answered", gateway, owner: "", request_id: "r" }),
        change({ kind: "accepted", gateway, owner: "x", request_id: "r", request: "{}", principal: { subject: "root", roles: [], scopes: [], claims: {} }, reply_topic: "t", correlation_data: "%%%", received_at: 1 }),
        change({ kind: "erased", owner: { $ne: null } }),
      ];
      for (const data of garbage) await jetstream.publish(`${names.ledgerSubject}.evil.x`, data);
    } finally {
      await raw.close();
    }
    a.ledger.accept(entry("still-there"));
    await eventually(() => expect(b.ledger.state(gateway, "alice", "still-there")).toBe("accepted"));
    expect(b.replica.stats().skipped).toBe(6);
    expect(b.ledger.state(gateway, "x", "r")).toBeUndefined();
  });
});
