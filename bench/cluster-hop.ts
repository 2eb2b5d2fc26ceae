// What the cluster's work queue costs a request: one node alone vs the same node in cluster mode (its request goes on
// the JetStream work queue, its own worker takes it, the parts come back over NATS), echo engine, side by side.
import type { BenchOptions } from "./options.js";
import { startBenchNode, type BenchNode } from "./bench-node.js";
import { closedLoop, type OverheadRound } from "./observability-overhead.js";
import { median } from "./stats.js";
import { NatsServer } from "../test/helpers/nats-server.js";

export interface ClusterHopResult {
  connections: number;
  seconds: number;
  rounds: number;
  maxTokens: number;
  results: OverheadRound[];
}

const alone = "alone";
const clustered = "cluster of one (work queue on loopback NATS)";

export async function runClusterHop(options: BenchOptions, log: (line: string) => void): Promise<ClusterHopResult> {
  const rounds = options.overheadRounds;
  const seconds = options.overheadSeconds;
  const connections = options.overheadConnections;
  const maxTokens = options.echoMaxTokens;
  log(`  2 variants × ${rounds} rounds of ${seconds} s, ${connections} connections in a closed loop, max_tokens ${maxTokens}`);
  const nats = await NatsServer.start();
  const nodes: [string, BenchNode][] = [];
  try {
    const agent = { engine: "echo", parallel: 64, max_queue: 4096, max_tokens: maxTokens };
    nodes.push([alone, await startBenchNode(agent, undefined, {})]);
    nodes.push([clustered, await startBenchNode(agent, undefined, { cluster: { nats: nats.url, name: "bench", node_id: "bench-1", heartbeat_s: 1 } })]);
    const results: OverheadRound[] = [];
    for (let round = -1; round < rounds; round += 1) {
      for (const [variant, node] of nodes) {
        const outcome = await closedLoop(node, connections, round < 0 ? Math.min(1, seconds) : seconds, maxTokens);
        if (round >= 0) results.push({ variant, ...outcome });
      }
    }
    return { connections, seconds, rounds, maxTokens, results };
  } finally {
    for (const [, node] of nodes) await node.close();
    await nats.close();
  }
}

export function renderClusterHop(result: ClusterHopResult): string {
  const fixed = (value: number, digits: number) => (Number.isFinite(value) ? value.toFixed(digits) : "–");
  const baseline = median(result.results.filter((round) => round.variant === alone).map((round) => round.requestsPerSecond));
  const rows = [alone, clustered].map((name) => {
    const rounds = result.results.filter((round) => round.variant === name);
    const rate = median(rounds.map((round) => round.requestsPerSecond));
    return `| ${name} | ${fixed(rate, 0)} | ${fixed(rate / baseline, 2)} | ${fixed(median(rounds.map((round) => round.p50Ms)), 2)} | ${fixed(median(rounds.map((round) => round.p99Ms)), 2)} |`;
  });
  return [
    "### Cluster hop: the work queue's cost per request (echo engine over WebSocket)",
    "",
    `${result.connections} connections each send a request (max_tokens ${result.maxTokens}) as soon as the last one finished, ${result.seconds} s per round, ` +
      `${result.rounds} rounds per variant, variants interleaved; medians over rounds. In cluster mode every request is published to the ` +
      "JetStream work queue, pulled by the node's own worker, and its parts come back over core NATS — the path every request takes in a cluster.",
    "",
    "| Variant | requests/s | vs alone | p50 latency (ms) | p99 latency (ms) |",
    "|---|---|---|---|---|",
    ...rows,
  ].join("\n");
}
