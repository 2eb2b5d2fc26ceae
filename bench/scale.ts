// Scale: a node (child process, echo engine) holding 10,000 idle authenticated WebSocket connections while 100 more stream answers.
import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import WebSocket from "ws";
import { issueToken } from "../src/security/jwt-issuer.js";
import type { BenchOptions } from "./options.js";
import { freePort } from "../test/helpers/free-port.js";

const repositoryRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");

/** RSS the node must stay under (issue 7). */
export const scaleRssTargetBytes = 1024 ** 3;

export interface ScaleResult {
  idleTarget: number;
  idleOpened: number;
  idleFailed: number;
  /** Idle connections still open after the streaming phase. */
  idleStillOpen: number;
  openSeconds: number;
  streaming: number;
  streamingServed: number;
  /** Answers that ended with an error frame, a wrong text, or not at all; with the first reasons. */
  streamingFailed: number;
  failures: string[];
  wordsPerAnswer: number;
  streamSeconds: number;
  /** Per-answer time from the chat frame to the finish frame (ms): median and max. */
  answerMedianMs: number;
  answerMaxMs: number;
  rssReadyMb: number;
  rssIdleMb: number;
  rssPeakMb: number;
  /** The kernel's high-water mark of the node's RSS (VmHWM) at the end. */
  vmHwmMb: number;
  fileDescriptorLimit: number;
}

export async function runScale(options: BenchOptions, log: (line: string) => void): Promise<ScaleResult> {
  const needed = options.scaleIdle + options.scaleStreaming + 256;
  const ownLimit = softFileLimit("self");
  if (ownLimit < needed) {
    throw new Error(`scale: this process may open ${ownLimit} files; ${needed} are needed. Raise it first: ulimit -n ${needed} (hard limit: ulimit -Hn)`);
  }
  const node = await startScaleNode(needed);
  try {
    const tokens = await Promise.all(
      Array.from({ length: 100 }, (_, index) => issueToken({ secret: node.secret, subject: `scale-${index}`, roles: ["user"], ttl: "1h" })),
    );
    const rssReadyMb = megabytes(node.rss());
    log(`  node ready (pid ${node.child.pid}, fd limit ${node.fileLimit}), RSS ${rssReadyMb.toFixed(1)} MB; opening ${options.scaleIdle} idle connections`);
    const openedAt = performance.now();
    const idle: WebSocket[] = [];
    let idleFailed = 0;
    for (let offset = 0; offset < options.scaleIdle; offset += 200) {
      const batch = Math.min(200, options.scaleIdle - offset);
      const results = await Promise.allSettled(Array.from({ length: batch }, (_, index) => openSocket(node.wsUrl, tokens[(offset + index) % tokens.length] as string)));
      for (const result of results) {
        if (result.status === "fulfilled") idle.push(result.value);
        else idleFailed += 1;
      }
    }
    const openSeconds = (performance.now() - openedAt) / 1000;
    const rssIdleMb = megabytes(node.rss());
    log(`  ${idle.length} idle connections open in ${openSeconds.toFixed(1)} s (${idleFailed} failed), RSS ${rssIdleMb.toFixed(1)} MB; ${options.scaleStreaming} streaming`);

    let rssPeak = node.rss();
    const sampler = setInterval(() => (rssPeak = Math.max(rssPeak, node.rss())), 50);
    const message = Array.from({ length: options.scaleWords }, (_, index) => `word${index}`).join(" ");
    const streamedAt = performance.now();
    const answers = await Promise.all(
      Array.from({ length: options.scaleStreaming }, (_, index) => streamOne(node.wsUrl, tokens[index % tokens.length] as string, `${message} ${index}`)),
    );
    const streamSeconds = (performance.now() - streamedAt) / 1000;
    clearInterval(sampler);
    rssPeak = Math.max(rssPeak, node.rss());
    const idleStillOpen = idle.filter((socket) => socket.readyState === WebSocket.OPEN).length;
    const served = answers.filter((answer) => answer.ok);
    const durations = served.map((answer) => answer.milliseconds).sort((a, b) => a - b);
    for (const socket of idle) socket.terminate();
    return {
      idleTarget: options.scaleIdle,
      idleOpened: idle.length,
      idleFailed,
      idleStillOpen,
      openSeconds,
      streaming: options.scaleStreaming,
      streamingServed: served.length,
      streamingFailed: answers.length - served.length,
      failures: [...new Set(answers.filter((answer) => !answer.ok).map((answer) => answer.reason))].slice(0, 5),
      wordsPerAnswer: options.scaleWords + 1,
      streamSeconds,
      answerMedianMs: durations[Math.floor(durations.length / 2)] ?? Number.NaN,
      answerMaxMs: durations.at(-1) ?? Number.NaN,
      rssReadyMb,
      rssIdleMb,
      rssPeakMb: megabytes(rssPeak),
      vmHwmMb: megabytes(node.highWaterMark()),
      fileDescriptorLimit: node.fileLimit,
    };
  } finally {
    await node.stop();
  }
}

export function renderScale(result: ScaleResult): string {
  const met = result.idleOpened === result.idleTarget && result.idleStillOpen === result.idleTarget && result.streamingServed === result.streaming;
  const underTarget = result.vmHwmMb * 1024 ** 2 < scaleRssTargetBytes;
  const rows: [string, string][] = [
    ["Idle authenticated WebSocket connections opened", `${result.idleOpened} / ${result.idleTarget} in ${result.openSeconds.toFixed(1)} s (${result.idleFailed} failed)`],
    ["Idle connections still open after the streaming phase", `${result.idleStillOpen} / ${result.idleTarget}`],
    ["Streaming answers served complete and correct", `${result.streamingServed} / ${result.streaming} (${result.wordsPerAnswer} echo tokens each) in ${result.streamSeconds.toFixed(1)} s`],
    ["Answer time (chat frame → finish) median / max", `${result.answerMedianMs.toFixed(0)} / ${result.answerMaxMs.toFixed(0)} ms`],
    ["Node RSS: ready → 10k idle → peak while streaming", `${result.rssReadyMb.toFixed(1)} → ${result.rssIdleMb.toFixed(1)} → ${result.rssPeakMb.toFixed(1)} MB`],
    ["Node RSS high-water mark (VmHWM)", `${result.vmHwmMb.toFixed(1)} MB`],
    ["Node file-descriptor limit", String(result.fileDescriptorLimit)],
    ["Target: all served, RSS < 1 GB", `${met ? "all served" : "**not all served**"}, ${underTarget ? "met" : "**not met**"}`],
  ];
  if (result.failures.length > 0) rows.push(["First failures", result.failures.join("; ")]);
  return [
    "### Scale: 10,000 idle WebSocket connections plus 100 streaming",
    "",
    "The node runs as its own process (`clawbot start`, echo engine, JWT auth, `max_connections_per_ip` raised), so its RSS is read",
    "from `/proc/<pid>/status` alone. The benchmark opens the idle connections (each authenticated at the upgrade, 200 at a time), then",
    "100 more connections each ask one question at once and read the streamed echo to its finish frame, checking the text.",
    "",
    "| | |",
    "| --- | --- |",
    ...rows.map(([label, value]) => `| ${label} | ${value} |`),
  ].join("\n");
}

interface ScaleNode {
  child: ChildProcess;
  wsUrl: string;
  secret: string;
  fileLimit: number;
  rss(): number;
  highWaterMark(): number;
  stop(): Promise<void>;
}

/** Starts `clawbot start` in a shell that first raises its file-descriptor limit to `needed` (at most the hard limit). */
async function startScaleNode(needed: number): Promise<ScaleNode> {
  const directory = fs.mkdtempSync(path.join(os.tmpdir(), "clawbot-scale-"));
  const secret = randomBytes(32).toString("base64url");
  const port = await freePort();
  const auth = { type: "jwt", secret };
  const limits = { max_connections: needed, max_connections_per_ip: needed };
  const config = {
    agent: { engine: "echo", data_dir: "./data", max_tokens: 4096, parallel: 64, max_queue: 256 },
    gateways: [
      { type: "websocket", port, auth, ...limits },
      { type: "http", port, auth, ...limits },
    ],
    log_level: "warn",
  };
  const configFile = path.join(directory, "clawbot.yaml");
  fs.writeFileSync(configFile, JSON.stringify(config, null, 2));
  const command = `ulimit -n ${needed} 2>/dev/null || ulimit -n "$(ulimit -Hn)"; exec "${process.execPath}" "${path.join(repositoryRoot, "bin", "clawbot.js")}" start --config "${configFile}"`;
  const child = spawn("/bin/sh", ["-c", command], { cwd: directory, stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, NO_COLOR: "1" } });
  let output = "";
  child.stdout?.on("data", (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on("data", (chunk: Buffer) => (output += chunk.toString()));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`scale: the node was not ready within 60 s\n${output}`)), 60_000);
    child.once("exit", (code) => reject(new Error(`scale: the node exited with ${code}\n${output}`)));
    const check = setInterval(() => {
      if (!/Clawbot is ready/.test(output)) return;
      clearInterval(check);
      clearTimeout(timer);
      resolve();
    }, 50);
  });
  const pid = child.pid as number;
  return {
    child,
    wsUrl: `ws://127.0.0.1:${port}/`,
    secret,
    fileLimit: softFileLimit(String(pid)),
    rss: () => statusKilobytes(pid, "VmRSS") * 1024,
    highWaterMark: () => statusKilobytes(pid, "VmHWM") * 1024,
    async stop() {
      const exited = new Promise((resolve) => child.once("exit", resolve));
      if (child.exitCode === null) child.kill("SIGKILL");
      await exited;
      fs.rmSync(directory, { recursive: true, force: true });
    },
  };
}

function openSocket(url: string, token: string): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(url, { headers: { authorization: `Bearer ${token}` } });
    socket.once("open", () => resolve(socket));
    socket.once("error", reject);
    socket.once("unexpected-response", (_request, response) => reject(new Error(`HTTP ${response.statusCode}`)));
  });
}

/** One streaming client: its own connection, one chat, deltas to the finish; ok when the text is the echo. */
async function streamOne(url: string, token: string, message: string): Promise<{ ok: boolean; reason: string; milliseconds: number }> {
  let socket: WebSocket | undefined;
  try {
    socket = await openSocket(url, token);
    const open = socket;
    const sentAt = performance.now();
    return await new Promise((resolve) => {
      let text = "";
      const timer = setTimeout(() => resolve({ ok: false, reason: "no finish within 120 s", milliseconds: Number.NaN }), 120_000);
      open.on("message", (data) => {
        const frame = JSON.parse(String(data)) as { type: string; text?: string; code?: string };
        if (frame.type === "text-delta") text += frame.text;
        if (frame.type !== "finish" && frame.type !== "error") return;
        clearTimeout(timer);
        const milliseconds = performance.now() - sentAt;
        if (frame.type === "error") resolve({ ok: false, reason: `error ${frame.code}`, milliseconds });
        else resolve({ ok: text === message && frame.text === message, reason: "wrong text", milliseconds });
      });
      open.once("close", (code) => resolve({ ok: false, reason: `closed ${code}`, milliseconds: Number.NaN }));
      open.send(JSON.stringify({ type: "chat", id: "s", message }));
    });
  } catch (error) {
    return { ok: false, reason: (error as Error).message, milliseconds: Number.NaN };
  } finally {
    socket?.terminate();
  }
}

function statusKilobytes(pid: number, field: string): number {
  const match = new RegExp(`^${field}:\\s+(\\d+) kB$`, "m").exec(fs.readFileSync(`/proc/${pid}/status`, "utf8"));
  return match ? Number(match[1]) : Number.NaN;
}

/** The soft "Max open files" limit of a process ("self" or a pid), from /proc/<pid>/limits. */
function softFileLimit(pid: string): number {
  const match = /^Max open files\s+(\d+|unlimited)/m.exec(fs.readFileSync(`/proc/${pid}/limits`, "utf8"));
  return match?.[1] === "unlimited" ? Number.POSITIVE_INFINITY : Number(match?.[1] ?? 0);
}

function megabytes(bytes: number): number {
  return bytes / 1024 ** 2;
}

