// Three real Clawbot node processes on one nats-server: load spread by capacity, a worker and the primary killed, a paused
// primary stepping down, a conversation and a document moving between nodes. Prints the failover times it measures.
import fs from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { killAll, removeTempDirs } from "../helpers/cli-process.js";
import { clusterAdminToken, clusterToken, startClusterNodes, until, WorkObserver, type ClusterNodeProcess, type LogLine } from "../helpers/cluster-nodes.js";
import { NatsServer } from "../helpers/nats-server.js";
import { WsTestClient, type Frame } from "../helpers/ws-test-client.js";

// What the nodes log (src/cluster/leadership.ts): who was primary, and until when.
const becamePrimary = /^became primary$/;
const steppedDown = /^stepped down$/;

let nats: NatsServer;
let nodes: ClusterNodeProcess[];
/** Who started and who finished each generation, read off the workers' replies on NATS. */
let observer: WorkObserver;
const clients = new Map<string, WsTestClient>();

beforeAll(async () => {
  nats = await NatsServer.start();
  observer = await WorkObserver.start(nats.url);
  nodes = await startClusterNodes([{ id: "n1" }, { id: "n2" }, { id: "n3" }], { nats: nats.url });
}, 180_000);

afterAll(async () => {
  for (const client of clients.values()) client.close();
  await observer?.close();
  for (const node of nodes ?? []) node.signal("SIGCONT");
  await killAll();
  await nats?.close();
  removeTempDirs();
});

/** One WebSocket client per (node, subject), reconnected after the node restarts. */
async function client(node: ClusterNodeProcess, subject = "alice"): Promise<WsTestClient> {
  const key = `${node.id}/${node.pid}/${subject}`;
  let existing = clients.get(key);
  if (!existing) {
    existing = await WsTestClient.connect(node.wsUrl, { token: await clusterToken(subject) });
    clients.set(key, existing);
  }
  return existing;
}

/** How many of the generations first seen after `since` each node finished, once all `expected` have finished. */
async function finishedPerNode(since: number, expected: number): Promise<Record<string, number>> {
  const works = await until(
    () => {
      const seen = observer.since(since);
      return seen.length >= expected && seen.every((work) => work.finishedBy) && seen;
    },
    `${expected} finished generations on NATS`,
    10_000,
    () => JSON.stringify(observer.since(since)),
  );
  expect(works.length).toBe(expected);
  return Object.fromEntries(nodes.map((node) => [node.id, works.filter((work) => work.finishedBy === node.id).length]));
}

/** A node's metric, summed over its labels, from its Prometheus endpoint. */
async function metric(node: ClusterNodeProcess, name: string): Promise<number> {
  const text = await (await fetch(node.metricsUrl!)).text();
  const values = text
    .split("\n")
    .map((line) => line.match(/^([a-z_]+)(?:\{[^}]*\})? (\S+)$/))
    .filter((match) => match?.[1] === name)
    .map((match) => Number(match![2]));
  if (values.length === 0) throw new Error(`${node.id} exports no ${name}`);
  return values.reduce((sum, value) => sum + value, 0);
}

/** Every node's log without the per-request lines, for failure messages. */
function describeAll(): string {
  return nodes
    .map((node) => {
      const lines = node.logs().filter((line) => line.msg !== "request");
      return `=== ${node.id} (pid ${node.pid})\n${lines.map((line) => JSON.stringify(line)).join("\n").slice(-8000)}`;
    })
    .join("\n");
}

async function chat(node: ClusterNodeProcess, id: string, message: string, params: Record<string, unknown>, options: { subject?: string; session?: string } = {}): Promise<Frame> {
  const ws = await client(node, options.subject);
  const { end } = await ws.chat(id, message, params, options.session);
  return end;
}

describe("a cluster of three node processes", () => {
  it("spreads 60 requests sent over the three gateways evenly over the three workers (each 20 ± 20 %)", async () => {
    // In waves as large as the cluster's sequences (3 workers × parallel 2): the load keeps every worker full, and a
    // worker may hold no more than its free sequences. (All 60 at once measured 24/18/18, 20/16/24, 20/20/20, 18/20/22
    // here: within the bound, but at its edge, as the three processes' share of two cores varies.)
    const since = Date.now();
    const ends: Frame[] = [];
    for (let wave = 0; wave < 10; wave++) {
      const indexes = Array.from({ length: 6 }, (_, offset) => wave * 6 + offset);
      ends.push(
        ...(await Promise.all(
          indexes.map((index) => chat(nodes[index % 3]!, `even-${index}`, "Once upon a time", { max_tokens: 48, temperature: 0 }, { subject: `user-${index}` })),
        )),
      );
    }
    for (const end of ends) expect(end.type, JSON.stringify(end)).toBe("finish");
    const counts = await finishedPerNode(since, 60);
    console.log(`60 requests served per worker: ${JSON.stringify(counts)}`);
    for (const node of nodes) {
      expect(counts[node.id], `${node.id} served ${counts[node.id]} of 60`).toBeGreaterThanOrEqual(16);
      expect(counts[node.id], `${node.id} served ${counts[node.id]} of 60`).toBeLessThanOrEqual(24);
    }
  }, 120_000);

  it("continues a conversation started on n1 on n2 with its history", async () => {
    const params = { max_tokens: 24, temperature: 0 };
    const first = await chat(nodes[0]!, "conv-1", "Once upon a time", params, { subject: "carol", session: "story" });
    expect(first.type, JSON.stringify(first)).toBe("finish");
    const usage1 = first.usage as { prompt_tokens: number; completion_tokens: number };
    expect(usage1.completion_tokens).toBeGreaterThan(0);
    // The exchange reaches n2's store (replicated over NATS) before turn 2 is sent there.
    const adminToken = await clusterAdminToken();
    await until(
      async () => {
        const response = await fetch(`${nodes[1]!.httpUrl}/admin/sessions?owner=carol`, { headers: { authorization: `Bearer ${adminToken}` } });
        const body = (await response.json()) as { sessions: { session: string; messages: number }[] };
        return body.sessions.some((session) => session.session === "story" && session.messages >= 2);
      },
      "the session on n2",
      10_000,
      describeAll,
    );
    // The same words again on another node: only the stored turn 1 (question and answer) makes its prompt longer.
    const second = await chat(nodes[1]!, "conv-2", "Once upon a time", params, { subject: "carol", session: "story" });
    expect(second.type, JSON.stringify(second)).toBe("finish");
    const usage2 = second.usage as { prompt_tokens: number };
    console.log(`conversation: turn 1 on n1 ${JSON.stringify(first.usage)}, turn 2 on n2 ${JSON.stringify(second.usage)}`);
    expect(usage2.prompt_tokens, `turn 1 ${JSON.stringify(first.usage)}, turn 2 ${JSON.stringify(second.usage)}`).toBeGreaterThanOrEqual(usage1.prompt_tokens + usage1.completion_tokens);
  }, 60_000);

  it("finds a document ingested with n1's config through kb search with n3's config", async () => {
    const file = path.join(nodes[0]!.dir, "lighthouse.md");
    fs.writeFileSync(file, "# Zebracorn lighthouse\n\nThe zebracorn lighthouse keeper logs every ship that passes the northern reef.\n");
    const ingest = await nodes[0]!.run(["kb", "ingest", file, "--config", nodes[0]!.configFile, "--json"]);
    expect(ingest.code, ingest.stdout + ingest.stderr).toBe(0);
    const started = Date.now();
    const found = await until(
      async () => {
        const search = await nodes[2]!.run(["kb", "search", "zebracorn", "--config", nodes[2]!.configFile, "--json"]);
        if (search.code !== 0) throw new Error(search.stdout + search.stderr);
        const results = (JSON.parse(search.stdout) as { results: { source: string; text: string }[] }).results;
        return results.find((result) => result.text.includes("zebracorn"));
      },
      "the document in n3's knowledge base",
      20_000,
      describeAll,
    );
    console.log(`a document ingested on n1 was found on n3 after ${Date.now() - started} ms`);
    expect(found.text).toContain("northern reef");
  }, 60_000);

  it("kill -9 of the worker generating a streamed answer: restart, then a complete answer from another node within 15 s", async () => {
    for (let attempt = 0; attempt < 6; attempt++) {
      const gateway = nodes[attempt % 3]!;
      const ws = await client(gateway, `stream-${attempt}`);
      const id = `failover-${attempt}`;
      const sentAt = Date.now();
      const result = ws.result(id);
      // A long answer at temperature > 0 (the test model stops early at 0), so it is mid-stream when its worker dies.
      ws.send({ type: "chat", id, message: "Once upon a time", params: { max_tokens: 1000, temperature: 0.8, seed: attempt } });
      await ws.next((frame) => frame.id === id && frame.type === "text-delta", 30_000);
      // The one generation in flight: the worker that started it, as its start reply on NATS says.
      const work = await until(() => observer.since(sentAt)[0], `${id} started by a worker`, 10_000, describeAll);
      const worker = nodes.find((node) => node.id === work.started[0]!.node)!;
      if (worker === gateway || ws.frames.some((frame) => frame.id === id && frame.type === "finish")) {
        // The client is connected to the worker itself, or it already ended: try again through another gateway.
        await result;
        continue;
      }
      const killedAt = Date.now();
      worker.signal("SIGKILL");
      await worker.cli.exited;
      const restart = await ws.next((frame) => frame.id === id && frame.type === "restart", 15_000);
      const restartMs = Date.now() - killedAt;
      const { end } = await result;
      const finishMs = Date.now() - killedAt;
      console.log(`worker ${worker.id} killed mid-stream: restart frame after ${restartMs} ms, finish after ${finishMs} ms`);
      expect(restart).toMatchObject({ type: "restart", id, reason: "worker_lost", attempt: 2 });
      expect(end.type, JSON.stringify(end)).toBe("finish");
      expect(finishMs).toBeLessThanOrEqual(15_000);
      // The finish holds the whole answer of the second worker: the text after the restart frame, not the void first part.
      const frames = ws.frames.filter((frame) => frame.id === id);
      const after = frames.slice(frames.indexOf(restart) + 1).filter((frame) => frame.type === "text-delta").map((frame) => String(frame.text));
      expect(end.text).toBe(after.join(""));
      // Another worker started it again and finished it.
      expect(work.started.map((start) => start.node)).toContain(work.finishedBy);
      expect(work.finishedBy).not.toBe(worker.id);
      // The gateway counts it (docs/metrics.md).
      expect(await metric(gateway, "clawbot_cluster_restarts_total")).toBe(1);
      await worker.restart();
      return;
    }
    throw new Error(`every attempt was served by the gateway node itself or ended before the kill\n${describeAll()}`);
  }, 120_000);

  it("a node with parallel 1 serves fewer requests than one with parallel 4 under concurrent load", async () => {
    await Promise.all([nodes[0]!.stop(), nodes[1]!.stop()]);
    await Promise.all([nodes[0]!.restart({ parallel: 1 }), nodes[1]!.restart({ parallel: 4 })]);
    const ids = Array.from({ length: 40 }, (_, index) => `capacity-${index}`);
    const since = Date.now();
    // Answers long enough that generating, not fetching the next request, is what takes a worker's time.
    const params = { max_tokens: 128, temperature: 0.8, seed: 7 };
    const ends = await Promise.all(ids.map((id, index) => chat(nodes[2]!, id, "Once upon a time", params, { subject: `load-${index}` })));
    for (const end of ends) expect(end.type, JSON.stringify(end)).toBe("finish");
    const counts = await finishedPerNode(since, 40);
    const count = (node: ClusterNodeProcess) => counts[node.id]!;
    console.log(`40 concurrent requests: parallel 1 served ${count(nodes[0]!)}, parallel 4 served ${count(nodes[1]!)}, parallel 2 served ${count(nodes[2]!)}`);
    expect(count(nodes[0]!)).toBeLessThan(count(nodes[1]!));
  }, 120_000);

  it("kill -9 of the primary: another node holds the lease within 15 s; a paused primary steps down and intervals never overlap", async () => {
    const primary = await until(() => currentPrimary(), "a primary", 20_000, describeAll);
    const killedAt = Date.now();
    primary.signal("SIGKILL");
    await primary.cli.exited;
    const next = await until(() => nodes.find((node) => node !== primary && lastEvent(node, killedAt)?.became), "a new primary", 20_000, describeAll);
    const takeoverMs = lastEvent(next, killedAt)!.at - killedAt;
    console.log(`primary ${primary.id} killed: ${next.id} became primary after ${takeoverMs} ms`);
    expect(takeoverMs).toBeLessThanOrEqual(15_000);
    // `clawbot cluster status` reads the same lease and the heartbeats from NATS.
    const status = await next.run(["cluster", "status", "--config", next.configFile, "--json"]);
    expect(status.code, status.stdout + status.stderr).toBe(0);
    const report = JSON.parse(status.stdout) as { primary: string | null; nodes: { node_id: string; primary: boolean }[] };
    expect(report.primary).toBe(next.id);
    expect(report.nodes.map((node) => node.node_id).sort()).toEqual(["n1", "n2", "n3"]);
    expect(report.nodes.filter((node) => node.primary).map((node) => node.node_id)).toEqual([next.id]);

    // Paused past its lease: another node takes over meanwhile, and once running again the old one steps down.
    const pausedAt = Date.now();
    next.signal("SIGSTOP");
    await new Promise((resolve) => setTimeout(resolve, 20_000));
    next.signal("SIGCONT");
    const third = nodes.find((node) => node !== primary && node !== next)!;
    expect(lastEvent(third, pausedAt)?.became, `${third.id} took over while ${next.id} was paused\n${describeAll()}`).toBe(true);
    await until(() => lastEvent(next, pausedAt)?.became === false, `${next.id} steps down`, 15_000, describeAll);

    const intervals = primaryIntervals();
    console.log(`primary intervals: ${JSON.stringify(intervals)}`);
    const sorted = [...intervals].sort((a, b) => a.from - b.from);
    for (let index = 1; index < sorted.length; index++) {
      expect(sorted[index]!.from, `${sorted[index - 1]!.node} until ${sorted[index - 1]!.to}, ${sorted[index]!.node} from ${sorted[index]!.from}`).toBeGreaterThanOrEqual(sorted[index - 1]!.to);
    }
    expect(new Set(intervals.map((interval) => interval.node)).size).toBeGreaterThanOrEqual(3);
  }, 120_000);
});

interface LeaderEvent {
  became: boolean;
  at: number;
  validUntil: number | undefined;
}

function leaderEvents(node: ClusterNodeProcess, pid?: number): LeaderEvent[] {
  return node
    .logs()
    .filter((line) => pid === undefined || line.pid === pid)
    .filter((line): line is LogLine & { msg: string; time: number } => typeof line.msg === "string" && (becamePrimary.test(line.msg) || steppedDown.test(line.msg)))
    .map((line) => ({ became: becamePrimary.test(line.msg), at: line.time, validUntil: typeof line.valid_until === "number" ? line.valid_until : undefined }));
}

/** The node's last leadership event after `since`. */
function lastEvent(node: ClusterNodeProcess, since: number): LeaderEvent | undefined {
  return leaderEvents(node)
    .filter((event) => event.at >= since)
    .at(-1);
}

/** The node whose running process last said it became primary (a restarted node's earlier process does not count). */
function currentPrimary(): ClusterNodeProcess | undefined {
  return nodes.find((node) => {
    const running = node.processes().find((process) => process.exitedAt === undefined);
    return running !== undefined && leaderEvents(node, running.pid).at(-1)?.became === true;
  });
}

/**
 * When each node's processes could act as primary: from "became primary" to the end of its lease as it stepped down
 * (`valid_until`, past which its own clock stops it acting), or the process's death.
 */
function primaryIntervals(): { node: string; pid: number; from: number; to: number }[] {
  const intervals: { node: string; pid: number; from: number; to: number }[] = [];
  for (const node of nodes) {
    for (const { pid, exitedAt } of node.processes()) {
      let from: number | undefined;
      for (const event of leaderEvents(node, pid)) {
        if (event.became) from ??= event.at;
        else if (from !== undefined) {
          // Past valid_until its own clock stopped it acting, even if it noticed (and logged) only later.
          const until = event.validUntil !== undefined && event.validUntil >= from ? event.validUntil : event.at;
          intervals.push({ node: node.id, pid, from, to: Math.min(until, event.at) });
          from = undefined;
        }
      }
      if (from !== undefined) intervals.push({ node: node.id, pid, from, to: exitedAt ?? Number.POSITIVE_INFINITY });
    }
  }
  return intervals;
}
