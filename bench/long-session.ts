// Long conversations with the echo engine: turn 1 vs turn N of one WebSocket session, and /healthz while ten long sessions run.
import type WebSocket from "ws";
import { startBenchNode } from "./bench-node.js";
import type { BenchOptions } from "./options.js";
import { median, summarize, type LatencySummary } from "./stats.js";
import { closeSocket, openSocket } from "./stream-drivers.js";

export interface LongSessionResult {
  turns: number;
  maxTokens: number;
  /** Send → finish of each turn of the one session, in order (milliseconds). */
  turnLatencies: number[];
  /** Sessions prefilled with `turns` exchanges, then all sending turns at once for `seconds`. */
  sessions: number;
  seconds: number;
  /** Turns completed by the long sessions while /healthz was polled, and their send → finish latency. */
  concurrentTurns: LatencySummary;
  /** GET /healthz, one after the other, while the long sessions run. */
  healthz: LatencySummary;
}

const message = "Hello there, how are you doing today my friend?";
/** What an echo answer of a prefilled exchange looks like: about as long as the real ones of phase one. */
const prefilledAnswer = `${message} ${message} ${message}`;

export async function runLongSession(options: BenchOptions, log: (line: string) => void): Promise<LongSessionResult> {
  const node = await startBenchNode({ engine: "echo", parallel: 64, max_queue: 4096 }, undefined);
  try {
    const maxTokens = options.longSessionMaxTokens;
    const turns = options.longSessionTurns;
    log(`  one session, ${turns} turns, max_tokens ${maxTokens}`);
    const socket = await openSocket(node.wsUrl, node.token);
    const turnLatencies: number[] = [];
    for (let turn = 0; turn < turns; turn += 1) {
      turnLatencies.push(await chatTurn(socket, `one-${turn}`, "long-one", maxTokens));
    }
    await closeSocket(socket);

    const sessions = options.longSessionSessions;
    log(`  ${sessions} sessions of ${turns} stored exchanges each, all sending turns for ${options.longSessionSeconds} s while /healthz is polled`);
    for (let session = 0; session < sessions; session += 1) {
      for (let turn = 0; turn < turns; turn += 1) node.daemon.sessions.appendExchange("bench", `long-${session}`, message, prefilledAnswer);
    }
    const sockets = await Promise.all(Array.from({ length: sessions }, () => openSocket(node.wsUrl, node.token)));
    // One turn each first: counts a session's stored messages the first time it is read.
    await Promise.all(sockets.map((each, session) => chatTurn(each, `warm-${session}`, `long-${session}`, maxTokens)));
    const deadline = performance.now() + options.longSessionSeconds * 1000;
    const concurrent: number[] = [];
    const runners = sockets.map(async (each, session) => {
      for (let turn = 0; performance.now() < deadline; turn += 1) concurrent.push(await chatTurn(each, `many-${session}-${turn}`, `long-${session}`, maxTokens));
    });
    const healthz: number[] = [];
    while (performance.now() < deadline) {
      const sentAt = performance.now();
      const response = await fetch(`${node.httpUrl}/healthz`);
      await response.arrayBuffer();
      healthz.push(performance.now() - sentAt);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    await Promise.all(runners);
    await Promise.all(sockets.map((each) => closeSocket(each)));
    return { turns, maxTokens, turnLatencies, sessions, seconds: options.longSessionSeconds, concurrentTurns: summarize(concurrent), healthz: summarize(healthz) };
  } finally {
    await node.close();
  }
}

/** Sends one chat turn of a session and resolves with its send → finish latency. */
function chatTurn(socket: WebSocket, id: string, session: string, maxTokens: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const sentAt = performance.now();
    const onMessage = (data: WebSocket.RawData) => {
      const frame = JSON.parse(String(data)) as { type: string; id?: string; error?: { message?: string } };
      if (frame.id !== id) return;
      if (frame.type === "error") {
        socket.off("message", onMessage);
        reject(new Error(`turn ${id} failed: ${frame.error?.message ?? "error"}`));
      } else if (frame.type === "finish") {
        socket.off("message", onMessage);
        resolve(performance.now() - sentAt);
      }
    };
    socket.on("message", onMessage);
    socket.send(JSON.stringify({ type: "chat", id, session, message, params: { max_tokens: maxTokens, temperature: 0 } }));
  });
}

export function renderLongSession(result: LongSessionResult): string {
  const fixed = (value: number) => (Number.isFinite(value) ? value.toFixed(1) : "–");
  const first = result.turnLatencies[0] ?? Number.NaN;
  const last = result.turnLatencies.at(-1) ?? Number.NaN;
  const firstTen = median(result.turnLatencies.slice(0, 10));
  const lastTen = median(result.turnLatencies.slice(-10));
  const row = (label: string, summary: LatencySummary) => [label, String(summary.count), fixed(summary.p50), fixed(summary.p99), fixed(summary.max)];
  return [
    "### Long sessions: echo engine over WebSocket",
    "",
    `One session sends ${result.turns} turns one after the other (max_tokens ${result.maxTokens}); the history is stored and trimmed to the context.`,
    `Then ${result.sessions} sessions holding ${result.turns} stored exchanges each send turns for ${result.seconds} s while \`/healthz\` is polled.`,
    "",
    "| Turn latency (ms) | value |",
    "|---|---|",
    `| turn 1 | ${fixed(first)} |`,
    `| turn ${result.turns} | ${fixed(last)} |`,
    `| median of turns 1–10 | ${fixed(firstTen)} |`,
    `| median of the last 10 turns | ${fixed(lastTen)} |`,
    "",
    "| While long sessions run (ms) | count | p50 | p99 | max |",
    "|---|---|---|---|---|",
    ...[row("`/healthz`", result.healthz), row("long-session turn", result.concurrentTurns)].map((cells) => `| ${cells.join(" | ")} |`),
  ].join("\n");
}
