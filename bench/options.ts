// Benchmark settings with their defaults, each overridable from the environment (BENCH_*), and the command-line flags.
import { defaultThreads } from "../src/config/schema.js";

/** A setting the user must change (a bad BENCH_* value, no model to load): printed as one line, without a stack. */
export class BenchSetupError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "BenchSetupError";
  }
}

/** Where `--write-report` writes the generated section, relative to the repository. */
export const defaultReportPath = "docs/benchmarks.md";

export interface BenchOptions {
  /** Timed repetitions per mode × concurrency cell (after one untimed warm-up round). */
  repetitions: number;
  concurrencies: number[];
  maxTokens: number;
  /** llama.cpp threads; cores − 1 by default, like the config default. */
  threads: number;
  /** Sequences the engine batches; at least the highest concurrency. */
  parallel: number;
  contextSize: number;
  /** GGUF to load; the test model (stories260K) when unset; "realistic": the realistic-shape model (bench/realistic-model.ts). */
  modelPath: string | undefined;
  echoRate: number;
  echoWarmupSeconds: number;
  echoSeconds: number;
  echoConnections: number;
  echoMaxTokens: number;
  /** Where the generated section goes (`--write-report`: docs/benchmarks.md; BENCH_REPORT: that path); empty: print only. */
  reportPath: string;
  skipThroughput: boolean;
  skipEcho: boolean;
  skipLateJoin: boolean;
  /** Context reuse: conversations per variant (reuse on, off), turns each, and their shape. */
  reuseConversations: number;
  reuseTurns: number;
  reuseMessageTokens: number;
  reuseMaxTokens: number;
  reuseContextSize: number;
  reuseParallel: number;
  /** Under load: turns of each conversation; past the context: the small context and the turns of its one conversation. */
  reuseLoadTurns: number;
  pastContextSize: number;
  pastContextTurns: number;
  skipContextReuse: boolean;
  skipReuseLoad: boolean;
  /** Long sessions (echo engine): turns of the one session, sessions run at once, seconds they run, max_tokens. */
  longSessionTurns: number;
  longSessionSessions: number;
  longSessionSeconds: number;
  longSessionMaxTokens: number;
  skipLongSession: boolean;
  /** Scale: idle authenticated WebSocket connections held open, streaming ones beside them, words per streamed answer. */
  scaleIdle: number;
  scaleStreaming: number;
  scaleWords: number;
  skipScale: boolean;
  /** Observability overhead: timed rounds per variant, seconds per round, closed-loop connections. */
  overheadRounds: number;
  overheadSeconds: number;
  overheadConnections: number;
  skipOverhead: boolean;
  /** Watermark (bench/watermark.ts): prompts (a plain and a watermarked answer each), answer length, temperature, delta. */
  watermarkAnswers: number;
  watermarkMaxTokens: number;
  watermarkTemperature: number;
  watermarkDelta: number;
  skipWatermark: boolean;
  /** Knowledge base (bench/knowledge.ts): records generated and ingested BM25-only, records ingested with the test model as embedder (0: skipped), queries timed, queries checked for recall, the corpus seed. */
  kbRecords: number;
  kbEmbedRecords: number;
  kbQueries: number;
  kbRecallQueries: number;
  kbSeed: number;
  skipKnowledge: boolean;
  /** Tool catalog cost (bench/tool-prompt-cost.ts): two-turn conversations per variant (10 tools, none). */
  toolsRepetitions: number;
  skipTools: boolean;
  /** Skip the cluster hop (needs nats-server). */
  skipCluster: boolean;
}

/**
 * The settings from BENCH_* variables and the flags after `npm run bench --`. The report is printed; it is written
 * into a file only when asked: `--write-report` (docs/benchmarks.md, which is tracked) or BENCH_REPORT=path.
 */
export function readBenchOptions(environment: NodeJS.ProcessEnv = process.env, argv: readonly string[] = process.argv.slice(2)): BenchOptions {
  let writeReport = false;
  // The knowledge and tools flags are shorthands for their BENCH_* variables (the flag wins).
  const flags: NodeJS.ProcessEnv = {};
  for (const argument of argv) {
    if (argument === "--write-report") writeReport = true;
    else if (argument === "--skip-knowledge") flags.BENCH_SKIP_KNOWLEDGE = "1";
    else if (argument === "--skip-tools") flags.BENCH_SKIP_TOOLS = "1";
    else if (argument === "--skip-cluster") flags.BENCH_SKIP_CLUSTER = "1";
    else if (argument.startsWith("--kb-records=")) flags.BENCH_KB_RECORDS = argument.slice("--kb-records=".length);
    else {
      throw new BenchSetupError(
        `unknown argument "${argument}"; the flags are --write-report, --skip-knowledge, --kb-records=N, --skip-tools and --skip-cluster (settings are BENCH_* variables, see docs/benchmarks.md)`,
      );
    }
  }
  environment = { ...environment, ...flags };
  const concurrencies = listOption(environment, "BENCH_CONCURRENCIES", [1, 4, 8]);
  return {
    repetitions: integerOption(environment, "BENCH_REPETITIONS", 9, 1),
    concurrencies,
    maxTokens: integerOption(environment, "BENCH_MAX_TOKENS", 256, 1),
    threads: integerOption(environment, "BENCH_THREADS", defaultThreads(), 1),
    parallel: integerOption(environment, "BENCH_PARALLEL", Math.max(8, ...concurrencies), 1),
    contextSize: integerOption(environment, "BENCH_CONTEXT_SIZE", 1024, 64),
    modelPath: environment.BENCH_MODEL || undefined,
    echoRate: integerOption(environment, "BENCH_ECHO_RATE", 1000, 1),
    echoWarmupSeconds: numberOption(environment, "BENCH_ECHO_WARMUP_SECONDS", 1, 0),
    echoSeconds: numberOption(environment, "BENCH_ECHO_SECONDS", 5, 0.1),
    echoConnections: integerOption(environment, "BENCH_ECHO_CONNECTIONS", 4, 1),
    echoMaxTokens: integerOption(environment, "BENCH_ECHO_MAX_TOKENS", 4, 1),
    reportPath: environment.BENCH_REPORT || (writeReport ? defaultReportPath : ""),
    skipThroughput: environment.BENCH_SKIP_THROUGHPUT === "1",
    skipEcho: environment.BENCH_SKIP_ECHO === "1",
    skipLateJoin: environment.BENCH_SKIP_LATE_JOIN === "1",
    reuseConversations: integerOption(environment, "BENCH_REUSE_CONVERSATIONS", 7, 1),
    reuseTurns: integerOption(environment, "BENCH_REUSE_TURNS", 10, 1),
    reuseMessageTokens: integerOption(environment, "BENCH_REUSE_MESSAGE_TOKENS", 100, 1),
    reuseMaxTokens: integerOption(environment, "BENCH_REUSE_MAX_TOKENS", 100, 1),
    reuseContextSize: integerOption(environment, "BENCH_REUSE_CONTEXT_SIZE", 4096, 64),
    reuseParallel: integerOption(environment, "BENCH_REUSE_PARALLEL", 4, 1),
    reuseLoadTurns: integerOption(environment, "BENCH_REUSE_LOAD_TURNS", 6, 1),
    pastContextSize: integerOption(environment, "BENCH_PAST_CONTEXT_SIZE", 2048, 64),
    pastContextTurns: integerOption(environment, "BENCH_PAST_CONTEXT_TURNS", 18, 1),
    skipContextReuse: environment.BENCH_SKIP_CONTEXT_REUSE === "1",
    skipReuseLoad: environment.BENCH_SKIP_REUSE_LOAD === "1",
    longSessionTurns: integerOption(environment, "BENCH_LONG_SESSION_TURNS", 300, 1),
    longSessionSessions: integerOption(environment, "BENCH_LONG_SESSION_SESSIONS", 10, 1),
    longSessionSeconds: numberOption(environment, "BENCH_LONG_SESSION_SECONDS", 5, 0.1),
    longSessionMaxTokens: integerOption(environment, "BENCH_LONG_SESSION_MAX_TOKENS", 32, 1),
    skipLongSession: environment.BENCH_SKIP_LONG_SESSION === "1",
    scaleIdle: integerOption(environment, "BENCH_SCALE_IDLE", 10_000, 1),
    scaleStreaming: integerOption(environment, "BENCH_SCALE_STREAMING", 100, 1),
    scaleWords: integerOption(environment, "BENCH_SCALE_WORDS", 500, 1),
    skipScale: environment.BENCH_SKIP_SCALE === "1",
    overheadRounds: integerOption(environment, "BENCH_OVERHEAD_ROUNDS", 5, 1),
    overheadSeconds: numberOption(environment, "BENCH_OVERHEAD_SECONDS", 2, 0.1),
    overheadConnections: integerOption(environment, "BENCH_OVERHEAD_CONNECTIONS", 8, 1),
    skipOverhead: environment.BENCH_SKIP_OVERHEAD === "1",
    watermarkAnswers: integerOption(environment, "BENCH_WATERMARK_ANSWERS", 100, 1),
    watermarkMaxTokens: integerOption(environment, "BENCH_WATERMARK_MAX_TOKENS", 200, 2),
    watermarkTemperature: numberOption(environment, "BENCH_WATERMARK_TEMPERATURE", 0.8, 0),
    watermarkDelta: numberOption(environment, "BENCH_WATERMARK_DELTA", 2, 0.01),
    skipWatermark: environment.BENCH_SKIP_WATERMARK === "1",
    kbRecords: integerOption(environment, "BENCH_KB_RECORDS", 100_000, 100),
    kbEmbedRecords: integerOption(environment, "BENCH_KB_EMBED_RECORDS", 1000, 0),
    kbQueries: integerOption(environment, "BENCH_KB_QUERIES", 300, 20),
    kbRecallQueries: integerOption(environment, "BENCH_KB_RECALL_QUERIES", 100, 1),
    kbSeed: integerOption(environment, "BENCH_KB_SEED", 12, 0),
    skipKnowledge: environment.BENCH_SKIP_KNOWLEDGE === "1",
    toolsRepetitions: integerOption(environment, "BENCH_TOOLS_REPETITIONS", 5, 1),
    skipTools: environment.BENCH_SKIP_TOOLS === "1",
    skipCluster: environment.BENCH_SKIP_CLUSTER === "1",
  };
}

function numberOption(environment: NodeJS.ProcessEnv, name: string, fallback: number, minimum: number, whole = false): number {
  const text = environment[name];
  if (text === undefined || text.trim() === "") return fallback;
  return parseNumber(name, text, minimum, whole);
}

function integerOption(environment: NodeJS.ProcessEnv, name: string, fallback: number, minimum: number): number {
  return numberOption(environment, name, fallback, minimum, true);
}

function listOption(environment: NodeJS.ProcessEnv, name: string, fallback: number[]): number[] {
  const text = environment[name];
  if (text === undefined || text.trim() === "") return fallback;
  return text.split(",").map((part) => parseNumber(name, part, 1, true));
}

function parseNumber(name: string, text: string, minimum: number, whole: boolean): number {
  const value = Number(text);
  if (text.trim() === "" || !Number.isFinite(value) || value < minimum || (whole && !Number.isInteger(value))) {
    throw new BenchSetupError(`${name}="${text}": expected a ${whole ? "whole number" : "number"} ≥ ${minimum}`);
  }
  return value;
}
