// Heartbeats through a real nats-server: every node sees every beat, a silent node turns dead, garbage is ignored.
import { describe, expect, it } from "vitest";
import { clusterNames } from "../../src/cluster/cluster-names.js";
import { startMembership, type Membership } from "../../src/cluster/membership.js";
import { openNatsLink, type NatsLink } from "../../src/cluster/nats-connection.js";
import { clusterSchema } from "../../src/config/cluster-schema.js";
import { capturingLogger, useNatsServer } from "../helpers/cluster-test-kit.js";

const nats = useNatsServer();
const cleanups = nats.cleanups;
let clusterCount = 0;

async function until(check: () => boolean, what: string, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** A cluster of its own per test (its own buckets), heartbeat 1 s. */
function newCluster() {
  clusterCount += 1;
  const config = clusterSchema.parse({ nats: nats.server.url, name: `members${clusterCount}`, heartbeat_s: 1 });
  const start = (nodeId: string, roles: ("gateway" | "worker")[] = ["gateway", "worker"]) => {
    const { logger, lines } = capturingLogger();
    const link: NatsLink = openNatsLink(config, { nodeId, logger });
    const membership: Membership = startMembership({
      link,
      names: clusterNames(config),
      config: { ...config, roles },
      nodeId,
      version: "9.9.9",
      logger,
      state: () => ({ model: `model-of-${nodeId}`, context_size: 256, free: 2, total: 4, queued: 1, primary: false }),
    });
    cleanups.push(() => membership.close(), () => link.close());
    return { link, membership, lines };
  };
  return { config, names: clusterNames(config), start };
}

const ids = (membership: Membership) => membership.alive().map((beat) => beat.node_id).sort();

describe("membership", () => {
  it("shows each of three nodes' beats to every node", async () => {
    const cluster = newCluster();
    const nodes = [cluster.start("node-a"), cluster.start("node-b", ["gateway"]), cluster.start("node-c")];
    for (const node of nodes) await until(() => ids(node.membership).join() === "node-a,node-b,node-c", "every node sees all three");
    const seenByC = nodes[2]!.membership.alive();
    const b = seenByC.find((beat) => beat.node_id === "node-b")!;
    expect(b).toMatchObject({ roles: ["gateway"], version: "9.9.9", model: "model-of-node-b", free: 2, total: 4, queued: 1, context_size: 256 });
    expect(b.memory_bytes).toBeGreaterThan(0);
    expect(b.cpu).toBeGreaterThanOrEqual(0);
    expect(b.cpu).toBeLessThanOrEqual(1);
  });

  it("counts a node that stops beating as dead after 3 beats, and still lists it", async () => {
    const cluster = newCluster();
    const a = cluster.start("node-a");
    const b = cluster.start("node-b");
    await until(() => ids(a.membership).join() === "node-a,node-b", "a sees b");
    // The link goes without the membership's close(): b's last beat stays in the bucket, like after kill -9.
    await b.link.close();
    await until(() => ids(a.membership).join() === "node-a", "b is dead for a");
    const entry = a.membership.entries().find((row) => row.beat.node_id === "node-b");
    expect(entry?.alive).toBe(false);
    expect(entry!.age_s).toBeGreaterThanOrEqual(3);
    expect(a.membership.entries().find((row) => row.beat.node_id === "node-a")?.alive).toBe(true);
  });

  it("removes a node's beat at once when it leaves cleanly", async () => {
    const cluster = newCluster();
    const a = cluster.start("node-a");
    const b = cluster.start("node-b");
    await until(() => ids(a.membership).join() === "node-a,node-b", "a sees b");
    await b.membership.close();
    await until(() => !a.membership.entries().some((row) => row.beat.node_id === "node-b"), "b's beat is gone");
  });

  it("ignores malformed values in the bucket and logs each key once", async () => {
    const cluster = newCluster();
    const a = cluster.start("node-a");
    await until(() => ids(a.membership).join() === "node-a", "a sees itself");
    const kv = await nats.raw.jetstream().views.kv(cluster.names.nodesBucket);
    const valid = a.membership.alive()[0]!;
    for (let round = 0; round < 3; round += 1) await kv.put("garbage", new Uint8Array([0xff, 0x00, 0x7b]));
    await kv.put("wrong-shape", JSON.stringify({ node_id: "wrong-shape", roles: "all", free: -1 }));
    // A valid beat under someone else's key: a writer must not speak for another node.
    await kv.put("impostor", JSON.stringify({ ...valid, node_id: "node-a" }));
    await kv.put("huge", JSON.stringify({ ...valid, node_id: "huge", model: "x".repeat(10_000) }));
    await until(() => a.membership.ignored() >= 6, "all six values were seen and ignored");
    expect(ids(a.membership)).toEqual(["node-a"]);
    const warnings = a.lines.filter((line) => line.msg === "ignored a malformed heartbeat in the nodes bucket");
    expect(warnings.map((line) => line.key).sort()).toEqual(["garbage", "huge", "impostor", "wrong-shape"]);
    // Still beating and watching after all that.
    const b = cluster.start("node-b");
    await until(() => ids(a.membership).join() === "node-a,node-b", "a still sees new nodes");
    void b;
  });

  it("keeps watching across a NATS restart", async () => {
    const cluster = newCluster();
    const a = cluster.start("node-a");
    const b = cluster.start("node-b");
    await until(() => ids(a.membership).join() === "node-a,node-b", "a sees b");
    await nats.server.stop();
    await nats.server.resume();
    const restartedAt = Date.now();
    // A beat b wrote after the restart reaches a only through a watch made (again) after it.
    await until(() => (a.membership.alive().find((beat) => beat.node_id === "node-b")?.at ?? 0) > restartedAt + 1000, "a sees b's beats again", 20_000).catch((error: Error) => {
      throw new Error(`${error.message}\na's log: ${JSON.stringify(a.lines)}\nb's log: ${JSON.stringify(b.lines)}`);
    });
    expect(ids(a.membership)).toEqual(["node-a", "node-b"]);
  });
});
