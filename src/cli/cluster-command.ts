// `clawbot cluster status`: the cluster's nodes as their heartbeats show them, and which one holds the leader lease.
import fs from "node:fs";
import type { Command } from "commander";
import type { ClusterConfig } from "../config/cluster-schema.js";
import type { MemberEntry } from "../cluster/membership.js";

interface StatusOptions {
  config?: string;
  json?: boolean;
}

/** Exit codes: 0 printed, 1 NATS could not be reached or read, 2 usage or config error. */
const usageError = 2;
/** How long the command waits for NATS before it says it cannot reach it. */
const connectTimeoutMs = 5000;

class UsageError extends Error {}

export function registerClusterCommand(program: Command): void {
  const cluster = program.command("cluster").description("A cluster of nodes on NATS JetStream (docs/cluster.md).");
  cluster
    .command("status")
    .description("Print every node's last heartbeat (alive or dead, load, model, version) and which node is primary.")
    .option("-c, --config <file>", "a clawbot.yaml with a cluster: section (default: ./clawbot.yaml when present)")
    .option("--json", "print the result as one JSON object")
    .action(async (options: StatusOptions) => {
      try {
        process.exitCode = await clusterStatus(options);
      } catch (error) {
        const usage = error instanceof UsageError || (error instanceof Error && error.name === "ConfigError");
        process.stderr.write(`clawbot cluster status: ${(error as Error).message}\n`);
        process.exitCode = usage ? usageError : 1;
      }
    });
}

async function clusterStatus(options: StatusOptions): Promise<number> {
  const configPath = options.config ?? (fs.existsSync("clawbot.yaml") ? "clawbot.yaml" : undefined);
  if (!configPath) throw new UsageError("no config: pass --config <file> with a cluster: section (or run it where clawbot.yaml is)");
  const { loadConfig } = await import("../config/load.js");
  const config = loadConfig({ configPath }).config.cluster;
  if (!config) throw new UsageError(`${configPath} has no cluster: section (at least cluster.nats: nats://host:4222)`);

  const { connect } = await import("nats");
  const { natsOptions } = await import("../cluster/nats-connection.js");
  const { clusterNames } = await import("../cluster/cluster-names.js");
  const { readMembers, readLease } = await import("../cluster/cluster-snapshot.js");
  const servers = config.nats.join(", ");
  // One try, a short timeout: a command must say at once that NATS is not there, not retry forever like a node.
  const connecting = connect({ ...natsOptions(config, "clawbot-cluster-status"), waitOnFirstConnect: false, reconnect: false, maxReconnectAttempts: 0, timeout: connectTimeoutMs });
  let timer: NodeJS.Timeout | undefined;
  const connection = await Promise.race([
    connecting,
    new Promise<never>((_resolve, reject) => {
      timer = setTimeout(() => reject(new Error("no answer")), connectTimeoutMs + 1000);
    }),
  ])
    .catch((error: unknown) => {
      void connecting.then((late) => late.close()).catch(() => undefined);
      throw new Error(`cannot reach NATS at ${servers}: ${(error as Error).message}`);
    })
    .finally(() => clearTimeout(timer));
  try {
    const names = clusterNames(config);
    const members = await readMembers(connection, names, config.heartbeat_s);
    const lease = await readLease(connection, names, config);
    const report = statusReport(config, members, lease?.node_id);
    if (options.json) process.stdout.write(`${JSON.stringify(report)}\n`);
    else process.stdout.write(statusTable(report));
    return 0;
  } catch (error) {
    throw new Error(`reading cluster "${config.name}" from NATS at ${servers} failed: ${(error as Error).message}`);
  } finally {
    await connection.close();
  }
}

interface StatusReport {
  cluster: string;
  servers: string[];
  primary: string | null;
  nodes: (Omit<MemberEntry["beat"], "at"> & { alive: boolean; age_s: number })[];
}

function statusReport(config: ClusterConfig, members: MemberEntry[], leader: string | undefined): StatusReport {
  return {
    cluster: config.name,
    servers: config.nats,
    primary: leader ?? null,
    nodes: members.map(({ beat, alive, age_s }) => {
      const { at: _at, ...rest } = beat;
      // The lease says who is primary; a beat's own claim may be up to a heartbeat old.
      return { ...rest, primary: beat.node_id === leader, alive, age_s };
    }),
  };
}

function statusTable(report: StatusReport): string {
  const alive = report.nodes.filter((node) => node.alive).length;
  const head = `cluster ${report.cluster} on ${report.servers.join(", ")}: ${report.nodes.length} nodes, ${alive} alive; primary: ${report.primary ?? "none"}\n`;
  if (report.nodes.length === 0) return `${head}no node has written a heartbeat yet\n`;
  const rows = [
    ["NODE", "ROLES", "STATE", "PRIMARY", "MODEL", "FREE/TOTAL", "QUEUED", "CPU", "MEMORY", "VERSION"],
    ...report.nodes.map((node) => [
      node.node_id,
      node.roles.join(","),
      `${node.alive ? "alive" : "dead"} ${node.age_s.toFixed(1)}s`,
      node.primary ? "*" : "",
      node.model || "-",
      `${node.free}/${node.total}`,
      String(node.queued),
      `${(node.cpu * 100).toFixed(1)}%`,
      `${(node.memory_bytes / 1048576).toFixed(1)} MiB`,
      node.version,
    ]),
  ];
  const widths = rows[0]!.map((_cell, column) => Math.max(...rows.map((row) => row[column]!.length)));
  return head + rows.map((row) => row.map((cell, column) => cell.padEnd(widths[column]!)).join("  ").trimEnd()).join("\n") + "\n";
}
