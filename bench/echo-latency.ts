// Request latency over WebSocket against the echo engine at a fixed open-loop rate (sends on schedule, whatever the replies).
import { monitorEventLoopDelay, PerformanceObserver } from "node:perf_hooks";
import type WebSocket from "ws";
import { startBenchNode } from "./bench-node.js";
import type { BenchOptions } from "./options.js";
import { summarize, type LatencySummary } from "./stats.js";
import { closeSocket, openSocket } from "./stream-drivers.js";

export const echoMessage = "Hello there, how are you doing today my friend?";

export interface EchoLatencyResult {
  targetRate: number;
  warmupSeconds: number;
  seconds: number;
  connections: number;
  maxTokens: number;
  /** Requests in the measured window (after the warm-up). */
  sent: number;
  completed: number;
  errors: number;
  /** Unanswered when the drain timeout passed. */
  lost: number;
  /** Send time → finish frame, in milliseconds. */
  latency: LatencySummary;
  /** Scheduled send time → finish frame (counts the client's own lateness too, so no coordinated omission). */
  latencyFromSchedule: LatencySummary;
  /** How late the sender was against its schedule. */
  sendLag: LatencySummary;
  achievedSendRate: number;
  achievedCompletionRate: number;
  /** Event-loop delay (shared by server and client, one process) during the measured window, in milliseconds. */
  eventLoopDelayP99Ms: number;
  eventLoopDelayMaxMs: number;
  /** Garbage-collection pauses during the measured window. */
  gcPauses: number;
  gcPauseTotalMs: number;
  gcPauseMaxMs: number;
}

interface InFlight {
  scheduledAt: number;
  sentAt: number;
  measured: boolean;
}

const drainTimeoutMs = 10_000;

export async function runEchoLatency(options: BenchOptions, log: (line: string) => void): Promise<EchoLatencyResult> {
  const node = await startBenchNode({ engine: "echo", parallel: 64, max_queue: 4096, max_tokens: options.echoMaxTokens }, undefined);
  const sockets: WebSocket[] = await Promise.all(Array.from({ length: options.echoConnections }, () => openSocket(node.wsUrl, node.token)));
  const intervalMs = 1000 / options.echoRate;
  const warmupCount = Math.round(options.echoWarmupSeconds * options.echoRate);
  const measuredCount = Math.max(1, Math.round(options.echoSeconds * options.echoRate));
  const totalCount = warmupCount + measuredCount;
  const inFlight = new Map<string, InFlight>();
  const latencies: number[] = [];
  const fromSchedule: number[] = [];
  const lags: number[] = [];
  let errors = 0;
  let firstMeasuredSendAt = Number.NaN;
  let lastMeasuredSendAt = Number.NaN;
  let lastMeasuredFinishAt = Number.NaN;
  let allAnswered: (() => void) | undefined;
  let sentTotal = 0;
  const loopDelay = monitorEventLoopDelay({ resolution: 1 });
  let measuring = false;
  const gcPauses: number[] = [];
  const gcObserver = new PerformanceObserver((list) => {
    if (measuring) gcPauses.push(...list.getEntries().map((entry) => entry.duration));
  });
  gcObserver.observe({ entryTypes: ["gc"] });

  const onMessage = (data: WebSocket.RawData) => {
    const receivedAt = performance.now();
    const frame = JSON.parse(String(data)) as { type: string; id?: string };
    if (frame.type !== "finish" && frame.type !== "error") return;
    const request = frame.id === undefined ? undefined : inFlight.get(frame.id);
    if (!request) return;
    inFlight.delete(frame.id as string);
    if (request.measured) {
      if (frame.type === "error") errors += 1;
      else {
        latencies.push(receivedAt - request.sentAt);
        fromSchedule.push(receivedAt - request.scheduledAt);
        lastMeasuredFinishAt = receivedAt;
      }
    }
    if (sentTotal === totalCount && inFlight.size === 0) allAnswered?.();
  };
  for (const socket of sockets) socket.on("message", onMessage);

  try {
    log(`  open loop: ${options.echoRate} requests/s, ${options.echoWarmupSeconds} s warm-up + ${options.echoSeconds} s measured, ${sockets.length} connections`);
    const startAt = performance.now() + 5;
    await new Promise<void>((resolve) => {
      const pump = () => {
        const now = performance.now();
        while (sentTotal < totalCount && startAt + sentTotal * intervalMs <= now) {
          const index = sentTotal;
          const scheduledAt = startAt + index * intervalMs;
          const measured = index >= warmupCount;
          if (index === warmupCount) {
            loopDelay.enable();
            measuring = true;
          }
          const id = `echo-${index}`;
          const sentAt = performance.now();
          inFlight.set(id, { scheduledAt, sentAt, measured });
          (sockets[index % sockets.length] as WebSocket).send(
            JSON.stringify({ type: "chat", id, message: echoMessage, params: { max_tokens: options.echoMaxTokens, temperature: 0 } }),
          );
          if (measured) {
            lags.push(sentAt - scheduledAt);
            if (Number.isNaN(firstMeasuredSendAt)) firstMeasuredSendAt = sentAt;
            lastMeasuredSendAt = sentAt;
          }
          sentTotal += 1;
        }
        if (sentTotal >= totalCount) return resolve();
        setTimeout(pump, Math.max(0, startAt + sentTotal * intervalMs - performance.now()));
      };
      setTimeout(pump, 5);
    });
    await new Promise<void>((resolve) => {
      if (inFlight.size === 0) return resolve();
      const timer = setTimeout(resolve, drainTimeoutMs);
      allAnswered = () => {
        clearTimeout(timer);
        resolve();
      };
    });
    loopDelay.disable();
    measuring = false;
    const lost = [...inFlight.values()].filter((request) => request.measured).length;
    return {
      targetRate: options.echoRate,
      warmupSeconds: options.echoWarmupSeconds,
      seconds: options.echoSeconds,
      connections: sockets.length,
      maxTokens: options.echoMaxTokens,
      sent: measuredCount,
      completed: latencies.length,
      errors,
      lost,
      latency: summarize(latencies),
      latencyFromSchedule: summarize(fromSchedule),
      sendLag: summarize(lags),
      achievedSendRate: measuredCount > 1 ? ((measuredCount - 1) * 1000) / (lastMeasuredSendAt - firstMeasuredSendAt) : Number.NaN,
      achievedCompletionRate: latencies.length > 0 ? (latencies.length * 1000) / (lastMeasuredFinishAt - firstMeasuredSendAt) : 0,
      eventLoopDelayP99Ms: loopDelay.percentile(99) / 1e6,
      eventLoopDelayMaxMs: loopDelay.max / 1e6,
      gcPauses: gcPauses.length,
      gcPauseTotalMs: gcPauses.reduce((sum, pause) => sum + pause, 0),
      gcPauseMaxMs: gcPauses.length > 0 ? Math.max(...gcPauses) : 0,
    };
  } finally {
    gcObserver.disconnect();
    await Promise.all(sockets.map((socket) => closeSocket(socket)));
    await node.close();
  }
}
