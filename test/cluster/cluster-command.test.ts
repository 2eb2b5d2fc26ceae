// `clawbot cluster status` as a real process: the table and JSON of a running set, and clear failures.
import fs from "node:fs";
import path from "node:path";
import { connect } from "nats";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { clusterNames } from "../../src/cluster/cluster-names.js";
import { startLeadership } from "../../src/cluster/leadership.js";
import { startMembership, type Membership } from "../../src/cluster/membership.js";
import { openNatsLink } from "../../src/cluster/nats-connection.js";
import { clusterSchema } from "../../src/config/cluster-schema.js";
import { loadConfig } from "../../src/config/load.js";
import { withCluster } from "../../src/cli/start-action.js";
import { silentLogger } from "../../src/logging/logger.js";
import { freePort, killAll, removeTempDirs, runCli, sandboxEnv, tempDir } from "../helpers/cli-process.js";
import { NatsServer } from "../helpers/nats-server.js";

let server: NatsServer;
let root: string;
const cleanups: (() => Promise<unknown>)[] = [];

beforeAll(async () => {
  server = await NatsServer.start();
  root = tempDir("clawbot-cluster-cli-");
});
afterEach(async () => {
  await killAll();
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => undefined);
});
afterAll(async () => {
  await server?.close();
  removeTempDirs();
});

function writeConfig(name: string, cluster: string | undefined): string {
  const file = path.join(root, `${name}.yaml`);
  fs.writeFileSync(file, `agent:\n  engine: echo\n${cluster ? `cluster:\n${cluster}` : ""}`);
  return file;
}

async function until(check: () => boolean, what: string, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

const status = (args: string[]) => runCli(["cluster", "status", ...args], { cwd: root, env: sandboxEnv(root), timeoutMs: 30_000 });

describe("clawbot cluster status", () => {
  it("prints every node of a running set, dead ones too, with the primary marked", async () => {
    const config = clusterSchema.parse({ nats: server.url, name: "ward-3", heartbeat_s: 1 });
    const names = clusterNames(config);
    const start = (nodeId: string, roles: ("gateway" | "worker")[]) => {
      const link = openNatsLink(config, { nodeId, logger: silentLogger });
      const leadership = startLeadership({ link, names, config, nodeId, logger: silentLogger });
      const membership = startMembership({
        link,
        names,
        config: { ...config, roles },
        nodeId,
        version: "0.1.0",
        logger: silentLogger,
        state: () => ({ model: roles.includes("worker") ? "stories260K" : "", context_size: 256, free: 3, total: roles.includes("worker") ? 4 : 0, queued: 2, primary: leadership.isPrimary() }),
      });
      cleanups.push(() => membership.close(), () => leadership.close(), () => link.close());
      return { link, membership, leadership };
    };
    const a = start("node-a", ["gateway", "worker"]);
    await until(() => a.leadership.isPrimary(), "node-a is primary");
    start("node-b", ["worker"]);
    const c = start("node-c", ["gateway"]);
    const ids = (membership: Membership) => membership.alive().map((beat) => beat.node_id).join();
    await until(() => ids(a.membership) === "node-a,node-b,node-c", "all three beat");
    // node-c's process "dies": its last beat stays in the bucket.
    await c.link.close();
    await until(() => a.membership.entries().some((entry) => entry.beat.node_id === "node-c" && !entry.alive), "node-c is dead");
    const file = writeConfig("status", `  nats: ${server.url}\n  name: ward-3\n  heartbeat_s: 1\n`);

    const table = await status(["--config", file]);
    expect(table.code, table.stderr).toBe(0);
    const lines = table.stdout.trim().split("\n");
    expect(lines[0]).toBe(`cluster ward-3 on ${server.url}: 3 nodes, 2 alive; primary: node-a`);
    expect(lines[1]).toMatch(/^NODE\s+ROLES\s+STATE\s+PRIMARY\s+MODEL\s+FREE\/TOTAL\s+QUEUED\s+CPU\s+MEMORY\s+VERSION$/);
    expect(lines[2]).toMatch(/^node-a\s+gateway,worker\s+alive \d+\.\ds\s+\*\s+stories260K\s+3\/4\s+2\s+\d+\.\d%\s+\d+\.\d MiB\s+0\.1\.0$/);
    expect(lines[3]).toMatch(/^node-b\s+worker\s+alive \d+\.\ds\s+stories260K\s+3\/4\s+2\s/);
    expect(lines[4]).toMatch(/^node-c\s+gateway\s+dead \d+\.\ds\s+-\s+3\/0\s+2\s/);

    const json = await status(["--config", file, "--json"]);
    expect(json.code, json.stderr).toBe(0);
    const report = JSON.parse(json.stdout) as { cluster: string; primary: string; nodes: { node_id: string; alive: boolean; primary: boolean; age_s: number; memory_bytes: number }[] };
    expect(report.cluster).toBe("ward-3");
    expect(report.primary).toBe("node-a");
    expect(report.nodes.map((node) => [node.node_id, node.alive, node.primary])).toEqual([
      ["node-a", true, true],
      ["node-b", true, false],
      ["node-c", false, false],
    ]);
    expect(report.nodes[2]!.age_s).toBeGreaterThanOrEqual(3);
    expect(report.nodes[0]!.memory_bytes).toBeGreaterThan(0);
  });

  it("says so when no node has joined yet, skipping whatever else was written into the buckets", async () => {
    const file = writeConfig("empty", `  nats: ${server.url}\n  name: nobody-here\n`);
    const empty = await status(["--config", file]);
    expect(empty.code, empty.stderr).toBe(0);
    expect(empty.stdout).toContain("0 nodes, 0 alive; primary: none");
    // Anyone on NATS can write the buckets: garbage is not a node, and not a primary.
    const raw = await connect({ servers: server.url });
    cleanups.push(() => raw.close());
    const names = clusterNames(clusterSchema.parse({ nats: server.url, name: "nobody-here" }));
    const nodes = await raw.jetstream().views.kv(names.nodesBucket);
    await nodes.put("bad", new Uint8Array([0xff, 0xfe]));
    await nodes.put("fake", JSON.stringify({ node_id: "fake", roles: ["worker"] }));
    await (await raw.jetstream().views.kv(names.leaderBucket)).put("leader", "{not json");
    const result = await status(["--config", file]);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toContain("cluster nobody-here");
    expect(result.stdout).toContain("0 nodes, 0 alive; primary: none");
  });

  it("fails with exit 1 naming the URL when NATS cannot be reached", async () => {
    const url = `nats://127.0.0.1:${await freePort()}`;
    const file = writeConfig("unreachable", `  nats: ${url}\n`);
    const result = await status(["--config", file, "--json"]);
    expect(result.code).toBe(1);
    expect(result.stdout).toBe("");
    expect(result.stderr).toContain(`cannot reach NATS at ${url}`);
  });

  it("fails with exit 2 when the config has no cluster section", async () => {
    const file = writeConfig("alone", undefined);
    const result = await status(["--config", file]);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain("has no cluster: section");
  });
});

describe("clawbot start --cluster", () => {
  it("turns cluster mode on with defaults, or sets only cluster.nats of a config's cluster section", () => {
    const alone = loadConfig({ configPath: writeConfig("alone-start", undefined) }).config;
    expect(withCluster(alone, undefined)).toBe(alone);
    expect(withCluster(alone, "nats://10.0.0.1:4222").cluster).toEqual(clusterSchema.parse({ nats: "nats://10.0.0.1:4222" }));
    const configured = loadConfig({ configPath: writeConfig("ward", "  nats: nats://old:4222\n  name: ward-3\n  heartbeat_s: 2\n  roles: [worker]\n") }).config;
    expect(withCluster(configured, "tls://10.0.0.2:4222").cluster).toMatchObject({ nats: ["tls://10.0.0.2:4222"], name: "ward-3", heartbeat_s: 2, roles: ["worker"] });
  });

  it("refuses a URL that is not nats:// or tls://, naming the option", async () => {
    const file = writeConfig("start", undefined);
    const result = await runCli(["start", "--config", file, "--cluster", "http://127.0.0.1:4222"], { cwd: root, env: sandboxEnv(root), timeoutMs: 30_000 });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('--cluster: must be a nats:// or tls:// URL (host and optional port), got "http://127.0.0.1:4222"');
  });
});
