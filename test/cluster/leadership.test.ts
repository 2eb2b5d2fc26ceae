// The leader lease through a real nats-server: one primary, failover, a paused primary steps down, clean hand-over.
import { describe, expect, it } from "vitest";
import { clusterNames } from "../../src/cluster/cluster-names.js";
import { leaderKey, parseLeaseValue, startLeadership, type LeaseScheduler, type Leadership } from "../../src/cluster/leadership.js";
import { openNatsLink, type NatsLink } from "../../src/cluster/nats-connection.js";
import { clusterSchema } from "../../src/config/cluster-schema.js";
import { capturingLogger, useNatsServer } from "../helpers/cluster-test-kit.js";

const nats = useNatsServer();
const cleanups = nats.cleanups;
let clusterCount = 0;

type LogLine = { msg: string; time: number; revision?: number; valid_until?: number; reason?: string };

/** Real time, but timers can be frozen like a SIGSTOPped process's: due callbacks wait until thawed. */
function freezableScheduler() {
  let frozen = false;
  const held: (() => void)[] = [];
  const scheduler: LeaseScheduler = {
    now: () => Date.now(),
    setTimeout: (callback, ms) =>
      setTimeout(() => {
        if (frozen) held.push(callback);
        else callback();
      }, ms),
    clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
  };
  return {
    scheduler,
    freeze: () => void (frozen = true),
    thaw: () => {
      frozen = false;
      for (const callback of held.splice(0)) callback();
    },
  };
}

async function until(check: () => boolean, what: string, timeoutMs = 15_000, onEachPoll?: () => void): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    onEachPoll?.();
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** A cluster of its own per test, heartbeat 1 s (lease TTL 2 s). */
function newCluster(heartbeatS = 1) {
  clusterCount += 1;
  const config = clusterSchema.parse({ nats: nats.server.url, name: `leaders${clusterCount}`, heartbeat_s: heartbeatS });
  const nodes: { id: string; link: NatsLink; leadership: Leadership; lines: LogLine[] }[] = [];
  const start = (id: string, scheduler?: LeaseScheduler) => {
    const { logger, lines } = capturingLogger<LogLine>();
    const link = openNatsLink(config, { nodeId: id, logger });
    const leadership = startLeadership({ link, names: clusterNames(config), config, nodeId: id, logger, scheduler });
    cleanups.push(() => leadership.close(), () => link.close());
    const node = { id, link, leadership, lines };
    nodes.push(node);
    return node;
  };
  const primaries = () => nodes.filter((node) => node.leadership.isPrimary()).map((node) => node.id);
  /** Fails the test the moment two nodes are primary at once. */
  const checkOnePrimary = () => expect(primaries().length).toBeLessThanOrEqual(1);
  const watchFor = async (ms: number) => {
    const end = Date.now() + ms;
    while (Date.now() < end) {
      checkOnePrimary();
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  };
  return { config, names: clusterNames(config), start, primaries, checkOnePrimary, watchFor };
}

describe("leadership", () => {
  it("makes exactly one of three nodes primary, and the others know which", async () => {
    const cluster = newCluster();
    const nodes = ["node-a", "node-b", "node-c"].map((id) => cluster.start(id));
    await until(() => cluster.primaries().length === 1, "one node is primary", 15_000, cluster.checkOnePrimary);
    const [primary] = cluster.primaries();
    // Several renewals (a heartbeat each) without a change of primary and never two.
    await cluster.watchFor(3000);
    expect(cluster.primaries()).toEqual([primary]);
    await until(() => nodes.every((node) => node.leadership.holder() === primary), "every node names the primary");
    expect(nodes.find((node) => node.id === primary)!.lines.some((line) => line.msg === "became primary")).toBe(true);
  });

  it("moves the lease to another node when the primary's connection dies", async () => {
    const cluster = newCluster();
    const nodes = ["node-a", "node-b", "node-c"].map((id) => cluster.start(id));
    await until(() => cluster.primaries().length === 1, "one node is primary");
    const old = nodes.find((node) => node.leadership.isPrimary())!;
    const changes: boolean[] = [];
    old.leadership.onChange((primary) => changes.push(primary));
    // Its link goes without leadership.close(): the lease is not handed over and must expire (like kill -9).
    await old.link.close();
    await until(() => cluster.primaries().some((id) => id !== old.id), "another node is primary", 15_000, cluster.checkOnePrimary);
    expect(old.leadership.isPrimary()).toBe(false);
    await until(() => changes.includes(false), "the old primary's listeners are told");
    const stepped = old.lines.find((line) => line.msg === "stepped down")!;
    const next = nodes.find((node) => node.leadership.isPrimary())!;
    const became = next.lines.find((line) => line.msg === "became primary")!;
    expect(stepped.valid_until).toBeLessThanOrEqual(became.time);
  });

  it("fences a paused primary: not primary once its window passes, steps down on resuming, does not take the lease back", async () => {
    const cluster = newCluster();
    const paused = freezableScheduler();
    const a = cluster.start("node-a", paused.scheduler);
    await until(() => a.leadership.isPrimary(), "a is primary");
    const b = cluster.start("node-b");
    await until(() => b.leadership.holder() === "node-a", "b sees a as primary");
    paused.freeze();
    // No renewal runs now; a's own clock ends its window, with no message from anyone.
    await until(() => !a.leadership.isPrimary(), "a is no longer primary", 10_000, cluster.checkOnePrimary);
    await until(() => b.leadership.isPrimary(), "b took the lease", 15_000, cluster.checkOnePrimary);
    paused.thaw();
    await until(() => a.lines.some((line) => line.msg === "stepped down"), "a logs that it stepped down", 10_000, cluster.checkOnePrimary);
    await cluster.watchFor(3000);
    expect(cluster.primaries()).toEqual(["node-b"]);
    expect(a.leadership.holder()).toBe("node-b");
    expect(a.lines.filter((line) => line.msg === "became primary")).toHaveLength(1);
    const stepped = a.lines.find((line) => line.msg === "stepped down")!;
    const became = b.lines.find((line) => line.msg === "became primary")!;
    expect(stepped.valid_until).toBeLessThanOrEqual(became.time);
  });

  it("hands the lease over on close(): deleted at its own revision, then taken by a standby", async () => {
    const cluster = newCluster(5);
    const a = cluster.start("node-a");
    await until(() => a.leadership.isPrimary(), "a is primary");
    const b = cluster.start("node-b");
    await until(() => b.leadership.holder() === "node-a", "b sees a as primary");
    await a.leadership.close();
    const kv = await nats.raw.jetstream().views.kv(cluster.names.leaderBucket);
    const entry = await kv.get(leaderKey);
    // Right after close: a delete marker, or already b's (never a's lease left to expire, which takes 10 s here).
    expect(entry?.operation === "DEL" || (entry && parseLeaseValue(entry.value)?.node_id === "node-b")).toBe(true);
    await until(() => b.leadership.isPrimary(), "b is primary", 15_000, cluster.checkOnePrimary);
    expect(a.lines.find((line) => line.msg === "stepped down")?.reason).toBe("closing");
  });

  it("leaves someone else's lease alone on close()", async () => {
    const cluster = newCluster();
    const a = cluster.start("node-a");
    await until(() => a.leadership.isPrimary(), "a is primary");
    const b = cluster.start("node-b");
    await until(() => b.leadership.holder() === "node-a", "b sees a");
    await b.leadership.close();
    const kv = await nats.raw.jetstream().views.kv(cluster.names.leaderBucket);
    const entry = await kv.get(leaderKey);
    expect(entry?.operation).toBe("PUT");
    expect(parseLeaseValue(entry!.value)?.node_id).toBe("node-a");
    expect(a.leadership.isPrimary()).toBe(true);
  });
});
