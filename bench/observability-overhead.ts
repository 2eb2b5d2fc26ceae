// What metrics and the audit ledger cost a request: echo engine over WebSocket, closed loop, each variant side by side.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import type WebSocket from "ws";
import { startBenchNode, type BenchNode } from "./bench-node.js";
import type { BenchOptions } from "./options.js";
import { median, percentile } from "./stats.js";
import { closeSocket, openSocket } from "./stream-drivers.js";

/** The configurations compared, from nothing recorded to a ledger shipped to a file. */
const variants = [
  { name: "metrics off, audit off", config: { metrics: { enabled: false }, audit: { enabled: false } } },
  { name: "metrics on, audit off", config: { metrics: { port: 0 }, audit: { enabled: false } } },
  { name: "metrics on, audit on (redacted)", config: { metrics: { port: 0 }, audit: { content: "redacted" } } },
  { name: "metrics on, audit on + file sink", config: { metrics: { port: 0 }, audit: { content: "redacted", sinks: [{ type: "file", path: "SINK" }] } } },
] as const;

export interface OverheadRound {
  variant: string;
  requestsPerSecond: number;
  p50Ms: number;
  p99Ms: number;
}

export interface ObservabilityOverheadResult {
  connections: number;
  seconds: number;
  rounds: number;
  maxTokens: number;
  /** Every timed round of every variant, in the order they ran (variants interleaved). */
  results: OverheadRound[];
}

const message = "My phone is 13812345678, please summarise the discharge note.";

export async function runObservabilityOverhead(options: BenchOptions, log: (line: string) => void): Promise<ObservabilityOverheadResult> {
  const rounds = options.overheadRounds;
  const seconds = options.overheadSeconds;
  const connections = options.overheadConnections;
  const maxTokens = options.echoMaxTokens;
  log(`  ${variants.length} variants × ${rounds} rounds of ${seconds} s, ${connections} connections in a closed loop, max_tokens ${maxTokens}`);
  const sinkDirectory = fs.mkdtempSync(path.join(os.tmpdir(), "clawbot-bench-sink-"));
  const nodes: BenchNode[] = [];
  try {
    for (const variant of variants) {
      const config = JSON.parse(JSON.stringify(variant.config).replace('"SINK"', JSON.stringify(path.join(sinkDirectory, `${nodes.length}.jsonl`))));
      nodes.push(await startBenchNode({ engine: "echo", parallel: 64, max_queue: 4096, max_tokens: maxTokens }, undefined, config));
    }
    const results: OverheadRound[] = [];
    // One untimed round each warms the JIT and the database; then rounds rotate through the variants.
    for (let round = -1; round < rounds; round += 1) {
      for (const [index, variant] of variants.entries()) {
        const outcome = await closedLoop(nodes[index] as BenchNode, connections, round < 0 ? Math.min(1, seconds) : seconds, maxTokens);
        if (round >= 0) results.push({ variant: variant.name, ...outcome });
      }
    }
    return { connections, seconds, rounds, maxTokens, results };
  } finally {
    for (const node of nodes) await node.close();
    fs.rmSync(sinkDirectory, { recursive: true, force: true });
  }
}

/** Each connection sends its next request as soon as its last one finished, for `seconds`. */
export async function closedLoop(node: BenchNode, connections: number, seconds: number, maxTokens: number): Promise<Omit<OverheadRound, "variant">> {
  const sockets = await Promise.all(Array.from({ length: connections }, () => openSocket(node.wsUrl, node.token)));
  const latencies: number[] = [];
  const startedAt = performance.now();
  const deadline = startedAt + seconds * 1000;
  await Promise.all(
    sockets.map(async (socket, connection) => {
      for (let turn = 0; performance.now() < deadline; turn += 1) latencies.push(await chat(socket, `${connection}-${turn}`, maxTokens));
    }),
  );
  const elapsedSeconds = (performance.now() - startedAt) / 1000;
  await Promise.all(sockets.map((socket) => closeSocket(socket)));
  return { requestsPerSecond: latencies.length / elapsedSeconds, p50Ms: percentile(latencies, 0.5), p99Ms: percentile(latencies, 0.99) };
}

function chat(socket: WebSocket, id: string, maxTokens: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const sentAt = performance.now();
    const onMessage = (data: WebSocket.RawData) => {
      const frame = JSON.parse(String(data)) as { type: string; id?: string; error?: { message?: string } };
      if (frame.id !== id || (frame.type !== "finish" && frame.type !== "error")) return;
      socket.off("message", onMessage);
      if (frame.type === "error") reject(new Error(`request ${id} failed: ${frame.error?.message ?? "error"}`));
      else resolve(performance.now() - sentAt);
    };
    socket.on("message", onMessage);
    socket.send(JSON.stringify({ type: "chat", id, message, params: { max_tokens: maxTokens, temperature: 0 } }));
  });
}

export function renderObservabilityOverhead(result: ObservabilityOverheadResult): string {
  const fixed = (value: number, digits: number) => (Number.isFinite(value) ? value.toFixed(digits) : "–");
  const baseline = median(result.results.filter((round) => round.variant === variants[0].name).map((round) => round.requestsPerSecond));
  const rows = variants.map(({ name }) => {
    const rounds = result.results.filter((round) => round.variant === name);
    const rate = median(rounds.map((round) => round.requestsPerSecond));
    return `| ${name} | ${fixed(rate, 0)} | ${fixed(rate / baseline, 2)} | ${fixed(median(rounds.map((round) => round.p50Ms)), 2)} | ${fixed(median(rounds.map((round) => round.p99Ms)), 2)} |`;
  });
  return [
    "### Observability overhead: metrics and audit ledger (echo engine over WebSocket)",
    "",
    `${result.connections} connections each send a request (max_tokens ${result.maxTokens}) as soon as the last one finished, ${result.seconds} s per round, ` +
      `${result.rounds} rounds per variant, variants interleaved; medians over rounds. Each request is one audit record (SM3 chain, one INSERT) when the audit is on.`,
    "",
    "| Variant | requests/s | vs nothing recorded | p50 latency (ms) | p99 latency (ms) |",
    "|---|---|---|---|---|",
    ...rows,
  ].join("\n");
}
