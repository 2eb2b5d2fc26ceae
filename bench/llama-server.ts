// Side by side with llama.cpp's own llama-server: the same OpenAI streaming client against both, alternating, at 1/4/8 streams.
//
//   node --import tsx bench/llama-server.ts                  # the test model
//   BENCH_MODEL=realistic node --import tsx bench/llama-server.ts
//
// llama-server is built once from the llama.cpp source node-llama-cpp ships (node_modules/node-llama-cpp/llama/
// gitRelease.bundle; cmake, -DLLAMA_CURL=OFF, target llama-server only; ~8 minutes on 2 cores) into a cache outside
// the repository (CLAWBOT_LLAMA_SERVER_CACHE, default ~/.cache/clawbot/llama-server). Without cmake the benchmark is
// skipped with a message. Both servers run as child processes with the same model, threads, slots (parallel
// sequences), context per slot and greedy settings; the client runs here, in its own process, as a real client does.
// Not part of `npm test`. Settings: BENCH_CONCURRENCIES (1,4,8), BENCH_MAX_TOKENS (200), BENCH_REPETITIONS (5),
// BENCH_THREADS (cores − 1), BENCH_CONTEXT_SIZE (1024 per slot), BENCH_BUILD_JOBS (2), BENCH_LLAMA_SERVER (a binary to use),
// BENCH_FLASH_ATTENTION (on / off for both servers; default: each server's own default, Clawbot off on the CPU,
// llama-server auto, which is on for the CPU).
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import OpenAI from "openai";
import { defaultThreads } from "../src/config/schema.js";
import { issueToken } from "../src/security/jwt-issuer.js";
import { resolveBenchModel } from "./realistic-model.js";
import { median } from "./stats.js";
import { benchPrompts } from "./throughput.js";
import { freePort } from "../test/helpers/free-port.js";

const repositoryRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const bundle = path.join(repositoryRoot, "node_modules", "node-llama-cpp", "llama", "gitRelease.bundle");
const log = (line: string) => process.stderr.write(`${line}\n`);

interface Server {
  name: "clawbot" | "llama-server";
  /** The server's process id, for its resident memory. */
  pid: number;
  baseUrl: string;
  apiKey: string;
  /** The model name sent in requests. */
  model: string;
  stop(): Promise<void>;
}

interface Round {
  tokensPerSecond: number;
  ttftMs: number[];
  completionTokens: number;
  /** The server's highest resident memory seen while the round ran (MB). */
  peakRssMb: number;
}

/** Builds llama-server once (cached); undefined, with the reason logged, when it cannot be built here. */
export async function ensureLlamaServer(): Promise<string | undefined> {
  if (process.env.BENCH_LLAMA_SERVER) return path.resolve(process.env.BENCH_LLAMA_SERVER);
  const cache = process.env.CLAWBOT_LLAMA_SERVER_CACHE || path.join(os.homedir(), ".cache", "clawbot", "llama-server");
  const binary = path.join(cache, "build", "bin", "llama-server");
  if (fs.existsSync(binary)) return binary;
  if (spawnSync("cmake", ["--version"]).status !== 0) {
    log("llama-server benchmark skipped: cmake is not installed (e.g. apt-get install -y cmake g++).");
    return undefined;
  }
  if (!fs.existsSync(bundle)) {
    log(`llama-server benchmark skipped: no llama.cpp source at ${bundle}.`);
    return undefined;
  }
  fs.mkdirSync(cache, { recursive: true });
  const source = path.join(cache, "src");
  const build = path.join(cache, "build");
  const jobs = process.env.BENCH_BUILD_JOBS ?? "2";
  const steps: [string, string[]][] = [
    ...(fs.existsSync(source) ? [] : ([["git", ["clone", "--quiet", bundle, source]]] as [string, string[]][])),
    ["cmake", ["-S", source, "-B", build, "-DLLAMA_CURL=OFF", "-DLLAMA_BUILD_TESTS=OFF", "-DCMAKE_BUILD_TYPE=Release"]],
    ["nice", ["-n", "19", "cmake", "--build", build, "--target", "llama-server", "-j", jobs]],
  ];
  log(`building llama-server from node-llama-cpp's llama.cpp source into ${cache} (once; several minutes)`);
  for (const [command, args] of steps) {
    const result = spawnSync(command, args, { stdio: ["ignore", "ignore", "inherit"] });
    if (result.status !== 0) throw new Error(`${command} ${args.join(" ")} failed (exit ${result.status})`);
  }
  return binary;
}

async function main(): Promise<void> {
  const concurrencies = (process.env.BENCH_CONCURRENCIES || "1,4,8").split(",").map(Number);
  const maxTokens = Number(process.env.BENCH_MAX_TOKENS || 200);
  const repetitions = Number(process.env.BENCH_REPETITIONS || 5);
  const threads = Number(process.env.BENCH_THREADS || defaultThreads());
  const contextSize = Number(process.env.BENCH_CONTEXT_SIZE || 1024);
  const slots = Math.max(...concurrencies);
  const flashAttention = flashAttentionSetting(process.env.BENCH_FLASH_ATTENTION);
  const binary = await ensureLlamaServer();
  if (!binary) return;
  const modelPath = await resolveBenchModel(process.env.BENCH_MODEL, log);
  log(`model ${path.basename(modelPath)}, threads ${threads}, slots ${slots}, context ${contextSize} per slot, max_tokens ${maxTokens}, ${repetitions} repetitions, flash attention ${flashAttention ?? "each server's default"}`);
  const servers: Server[] = [];
  const rounds = new Map<string, Round[]>();
  try {
    servers.push(await startClawbot(modelPath, threads, slots, contextSize, flashAttention));
    servers.push(await startLlamaServer(binary, modelPath, threads, slots, contextSize, flashAttention));
    // Round 0 warms both up (untimed); the order of the servers alternates every round.
    for (let repetition = 0; repetition <= repetitions; repetition += 1) {
      for (const concurrency of concurrencies) {
        const order = repetition % 2 === 0 ? servers : [...servers].reverse();
        for (const server of order) {
          const round = await runRound(server, concurrency, maxTokens);
          if (repetition > 0) rounds.set(`${server.name}/${concurrency}`, [...(rounds.get(`${server.name}/${concurrency}`) ?? []), round]);
        }
      }
      log(repetition === 0 ? "  warm-up done" : `  repetition ${repetition}/${repetitions} done`);
    }
  } finally {
    for (const server of servers) await server.stop();
  }
  process.stdout.write(`${renderTable(rounds, concurrencies, { modelPath, threads, slots, contextSize, maxTokens, repetitions, flashAttention })}\n`);
}

/** BENCH_FLASH_ATTENTION: "on" / "off" for both servers; undefined leaves each server's default. */
function flashAttentionSetting(value: string | undefined): "on" | "off" | undefined {
  if (value === undefined || value === "") return undefined;
  if (value === "on" || value === "off") return value;
  throw new Error(`BENCH_FLASH_ATTENTION must be on or off, not "${value}"`);
}

/** `concurrency` streams at once through the official OpenAI client; aggregate tok/s from the first request to the last finish. */
export async function runRound(server: Server, concurrency: number, maxTokens: number): Promise<Round> {
  const client = new OpenAI({ baseURL: `${server.baseUrl}/v1`, apiKey: server.apiKey, maxRetries: 0 });
  let peakRssMb = residentMb(server.pid);
  const sampler = setInterval(() => (peakRssMb = Math.max(peakRssMb, residentMb(server.pid))), 50);
  const startedAt = performance.now();
  const streams = await Promise.all(
    Array.from({ length: concurrency }, async (_unused, index) => {
      const requestedAt = performance.now();
      const stream = await client.chat.completions.create({
        model: server.model,
        messages: [{ role: "user", content: benchPrompts[index % benchPrompts.length] as string }],
        max_tokens: maxTokens,
        temperature: 0,
        stream: true,
        stream_options: { include_usage: true },
      });
      let firstAt: number | undefined;
      let chunks = 0;
      let usageTokens: number | undefined;
      for await (const chunk of stream) {
        if (chunk.choices[0]?.delta?.content) {
          firstAt ??= performance.now();
          chunks += 1;
        }
        if (chunk.usage) usageTokens = chunk.usage.completion_tokens;
      }
      return { ttftMs: (firstAt ?? performance.now()) - requestedAt, completionTokens: usageTokens ?? chunks };
    }),
  );
  const seconds = (performance.now() - startedAt) / 1000;
  clearInterval(sampler);
  peakRssMb = Math.max(peakRssMb, residentMb(server.pid));
  const completionTokens = streams.reduce((sum, stream) => sum + stream.completionTokens, 0);
  return { tokensPerSecond: completionTokens / seconds, ttftMs: streams.map((stream) => stream.ttftMs), completionTokens, peakRssMb };
}

/** A process's resident memory in MB (VmRSS from /proc; 0 where there is no /proc). */
function residentMb(pid: number): number {
  try {
    const match = /^VmRSS:\s+(\d+) kB/m.exec(fs.readFileSync(`/proc/${pid}/status`, "utf8"));
    return match ? Number(match[1]) / 1024 : 0;
  } catch {
    return 0;
  }
}

export async function startClawbot(modelPath: string, threads: number, slots: number, contextSize: number, flashAttention?: "on" | "off"): Promise<Server> {
  const directory = fs.mkdtempSync(path.join(os.tmpdir(), "clawbot-anchor-"));
  const secret = randomBytes(32).toString("base64url");
  const port = await freePort();
  const config = {
    agent: {
      engine: "llama",
      model_path: modelPath,
      data_dir: "./data",
      threads,
      parallel: slots,
      context_size: contextSize,
      temperature: 0,
      max_queue: 64,
      ...(flashAttention ? { flash_attention: flashAttention === "on" } : {}),
    },
    gateways: [{ type: "http", host: "127.0.0.1", port, auth: { type: "jwt", secret } }],
    limits: { max_requests_per_subject: 100_000, queue_share_per_subject: 1 },
    log_level: "warn",
  };
  const configFile = path.join(directory, "clawbot.yaml");
  fs.writeFileSync(configFile, JSON.stringify(config, null, 2));
  const child = spawn(process.execPath, [path.join(repositoryRoot, "bin", "clawbot.js"), "start", "--config", configFile], {
    cwd: directory,
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, NO_COLOR: "1" },
  });
  await waitUntilReady(child, "clawbot", (output) => /Clawbot is ready/.test(output));
  const token = await issueToken({ secret, subject: "bench", roles: ["user"], ttl: "2h" });
  return {
    name: "clawbot",
    pid: child.pid as number,
    baseUrl: `http://127.0.0.1:${port}`,
    apiKey: token,
    model: path.basename(modelPath).replace(/\.gguf$/i, ""),
    stop: async () => {
      await stopChild(child);
      fs.rmSync(directory, { recursive: true, force: true });
    },
  };
}

async function startLlamaServer(binary: string, modelPath: string, threads: number, slots: number, contextSize: number, flashAttention?: "on" | "off"): Promise<Server> {
  const port = await freePort();
  const sizes = ["-t", String(threads), "-tb", String(threads), "-np", String(slots), "-c", String(contextSize * slots)];
  const args = ["-m", modelPath, ...sizes, ...(flashAttention ? ["-fa", flashAttention] : []), "--host", "127.0.0.1", "--port", String(port)];
  const child = spawn(binary, args, { stdio: ["ignore", "pipe", "pipe"] });
  const baseUrl = `http://127.0.0.1:${port}`;
  await waitUntilReady(child, "llama-server", () => false, async () => (await fetch(`${baseUrl}/health`).catch(() => undefined))?.status === 200);
  return { name: "llama-server", pid: child.pid as number, baseUrl, apiKey: "none", model: path.basename(modelPath), stop: () => stopChild(child) };
}

async function waitUntilReady(child: ChildProcess, name: string, readyOutput: (output: string) => boolean, probe?: () => Promise<boolean>): Promise<void> {
  let output = "";
  child.stdout?.on("data", (chunk: Buffer) => (output = (output + chunk.toString()).slice(-20_000)));
  child.stderr?.on("data", (chunk: Buffer) => (output = (output + chunk.toString()).slice(-20_000)));
  const deadline = Date.now() + 120_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`${name} exited with ${child.exitCode}\n${output}`);
    if (readyOutput(output) || (probe && (await probe()))) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`${name} was not ready within 120 s\n${output}`);
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  const exited = new Promise((resolve) => child.once("exit", resolve));
  child.kill("SIGTERM");
  const timer = setTimeout(() => child.kill("SIGKILL"), 10_000);
  await exited;
  clearTimeout(timer);
}


function renderTable(
  rounds: Map<string, Round[]>,
  concurrencies: number[],
  settings: { modelPath: string; threads: number; slots: number; contextSize: number; maxTokens: number; repetitions: number; flashAttention?: "on" | "off" },
): string {
  const rows: string[] = [];
  for (const concurrency of concurrencies) {
    const clawbot = rounds.get(`clawbot/${concurrency}`) ?? [];
    const anchor = rounds.get(`llama-server/${concurrency}`) ?? [];
    const tokS = (list: Round[]) => median(list.map((round) => round.tokensPerSecond));
    const ttft = (list: Round[]) => median(list.flatMap((round) => round.ttftMs));
    const tokens = (list: Round[]) => median(list.map((round) => round.completionTokens));
    const rss = (list: Round[]) => Math.max(...list.map((round) => round.peakRssMb)).toFixed(0);
    const ratio = tokS(clawbot) / tokS(anchor);
    rows.push(
      `| ${concurrency} | ${tokS(clawbot).toFixed(0)} | ${tokS(anchor).toFixed(0)} | ${ratio.toFixed(2)} ${ratio >= 1 ? "(met)" : "(**not met**)"} | ` +
        `${ttft(clawbot).toFixed(1)} | ${ttft(anchor).toFixed(1)} | ${tokens(clawbot).toFixed(0)} / ${tokens(anchor).toFixed(0)} | ${rss(clawbot)} / ${rss(anchor)} |`,
    );
  }
  return [
    `### Clawbot HTTP SSE vs llama-server (${path.basename(settings.modelPath)})`,
    "",
    `Same OpenAI streaming client (the \`openai\` package, in the benchmark's own process) against both servers, each a child process:`,
    `threads ${settings.threads}, ${settings.slots} slots of ${settings.contextSize} tokens, max_tokens ${settings.maxTokens}, temperature 0,`,
    `flash attention ${settings.flashAttention ?? "as each server defaults (Clawbot: off on the CPU; llama-server: auto, on for the CPU)"},`,
    `${settings.repetitions} repetitions after a warm-up, the servers' order alternating every round; medians. llama-server renders the`,
    "prompt with its default chat template when the model has none, Clawbot with its plain prompt: prompts differ by a few tokens.",
    "Peak RSS: each server process's highest VmRSS sampled every 50 ms while rounds of that many streams ran (the whole node for Clawbot).",
    "",
    "| Streams | Clawbot tok/s | llama-server tok/s | Clawbot ÷ llama-server (target ≥ 1.0) | Clawbot TTFT (ms) | llama-server TTFT (ms) | Tokens per round (Clawbot / llama-server) | Peak RSS MB (Clawbot / llama-server) |",
    "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ...rows,
  ].join("\n");
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().catch((error: unknown) => {
    process.stderr.write(`llama-server benchmark failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exitCode = 1;
  });
}
