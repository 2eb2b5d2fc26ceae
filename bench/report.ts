// Renders the benchmark results as markdown and writes them into the generated section of docs/benchmarks.md.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import type { ContextReuseResult, ReuseTurn, ReuseVariant } from "./context-reuse.js";
import type { EchoLatencyResult } from "./echo-latency.js";
import type { KnowledgeResult } from "./knowledge.js";
import { renderKnowledge } from "./knowledge-render.js";
import type { LateJoinResult } from "./late-join.js";
import { renderLongSession, type LongSessionResult } from "./long-session.js";
import { renderObservabilityOverhead, type ObservabilityOverheadResult } from "./observability-overhead.js";
import { renderClusterHop, type ClusterHopResult } from "./cluster-hop.js";
import { renderReuseLoad, type ReuseLoadResult } from "./reuse-load.js";
import type { BenchOptions } from "./options.js";
import { renderScale, type ScaleResult } from "./scale.js";
import { findCell, lateStartFraction, modeLabels, type ThroughputResult } from "./throughput.js";
import { renderToolPromptCost, type ToolPromptCostResult } from "./tool-prompt-cost.js";
import { renderWatermark, type WatermarkResult } from "./watermark.js";
import { median } from "./stats.js";
import type { ModeName } from "./stream-drivers.js";

const repositoryRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");

export const sectionStart = "<!-- bench:generated:start (written by `npm run bench`; edits inside are overwritten) -->";
export const sectionEnd = "<!-- bench:generated:end -->";

/** Targets the benchmark reports on (never asserts). */
export const targets = {
  gatewayRatio: 0.95,
  batchingGain: 1.5,
  echoP99Ms: 2,
  /** Decodes per round at most this multiple of max_tokens: every running stream is in (nearly) every batch. */
  decodesPerTokenStep: 1.05,
  /** With context reuse on, the last turn's TTFT at most this multiple of the first turn's. */
  reuseTurnRatio: 1.5,
};

export interface BenchResults {
  options: BenchOptions;
  startedAt: Date;
  /** os.loadavg() when the run started and ended: other work on the machine skews the numbers. */
  loadAverageAtStart: number[];
  loadAverageAtEnd?: number[];
  throughput?: ThroughputResult;
  lateJoin?: LateJoinResult;
  contextReuse?: ContextReuseResult;
  reuseLoad?: ReuseLoadResult;
  echo?: EchoLatencyResult;
  longSession?: LongSessionResult;
  scale?: ScaleResult;
  overhead?: ObservabilityOverheadResult;
  clusterHop?: ClusterHopResult;
  watermark?: WatermarkResult;
  knowledge?: KnowledgeResult;
  tools?: ToolPromptCostResult;
}

export function renderResults(results: BenchResults): string {
  const parts = [renderMachine(results)];
  if (results.throughput) parts.push(renderThroughput(results.throughput));
  if (results.lateJoin) parts.push(renderLateJoin(results.lateJoin));
  if (results.contextReuse) parts.push(renderContextReuse(results.contextReuse));
  if (results.reuseLoad) parts.push(renderReuseLoad(results.reuseLoad));
  if (results.echo) parts.push(renderEcho(results.echo));
  if (results.longSession) parts.push(renderLongSession(results.longSession));
  if (results.scale) parts.push(renderScale(results.scale));
  if (results.overhead) parts.push(renderObservabilityOverhead(results.overhead));
  if (results.clusterHop) parts.push(renderClusterHop(results.clusterHop));
  if (results.watermark) parts.push(renderWatermark(results.watermark));
  if (results.knowledge) parts.push(renderKnowledge(results.knowledge));
  if (results.tools) parts.push(renderToolPromptCost(results.tools));
  return parts.join("\n\n");
}

function renderMachine({ options, startedAt, throughput, loadAverageAtStart, loadAverageAtEnd }: BenchResults): string {
  const cpus = os.cpus();
  const rows: [string, string][] = [
    ["Date", startedAt.toISOString()],
    ["CPU", `${cpus[0]?.model.trim() ?? "unknown"} (${os.availableParallelism()} logical cores)`],
    ["Memory", `${(os.totalmem() / 1024 ** 3).toFixed(1)} GiB`],
    ["OS", `${os.type()} ${os.release()} ${os.arch()}`],
    ["Node.js", process.version],
    ["node-llama-cpp", packageVersion("node-llama-cpp")],
    ["ws", packageVersion("ws")],
    ["Load average (1/5/15 min) at start → end", `${loadText(loadAverageAtStart)} → ${loadText(loadAverageAtEnd ?? os.loadavg())}`],
  ];
  if (throughput) {
    const info = throughput.engineInfo;
    rows.push(
      ["Model file", `${path.basename(throughput.modelPath)} (${(throughput.modelBytes / 1024 ** 2).toFixed(2)} MiB)`],
      ["Backend", info.backend],
      ["llama.cpp threads", String(info.threads)],
      ["Parallel sequences", String(info.parallel)],
      ["Context per sequence", `${info.contextSize} tokens`],
    );
  } else {
    rows.push(["llama.cpp threads", String(options.threads)]);
  }
  rows.push(["How to reproduce", "`npm run bench` (quick run: `BENCH_REPETITIONS=1 BENCH_ECHO_SECONDS=1 BENCH_REUSE_CONVERSATIONS=1 npm run bench`)"]);
  return ["### Machine", "", table(["", ""], rows)].join("\n");
}

function renderThroughput(result: ThroughputResult): string {
  const modes: ModeName[] = ["engine", "websocket", "http-sse"];
  const concurrencies = [...new Set(result.cells.map((cell) => cell.concurrency))];
  const rows: string[][] = [];
  for (const concurrency of concurrencies) {
    const baseline = findCell(result.cells, "engine", concurrency);
    for (const mode of modes) {
      const cell = findCell(result.cells, mode, concurrency);
      if (!cell) continue;
      const low = Math.min(...cell.tokensPerSecond);
      const high = Math.max(...cell.tokensPerSecond);
      const ratio = baseline ? cell.medianTokensPerSecond / baseline.medianTokensPerSecond : Number.NaN;
      rows.push([
        modeLabels[mode],
        String(concurrency),
        fixed(cell.medianTokensPerSecond, 0),
        `${fixed(low, 0)}–${fixed(high, 0)}`,
        fixed(cell.medianTtftMs, 2),
        fixed(cell.p90TtftMs, 2),
        `${cell.lateStarts}/${cell.streams}`,
        decodesText(cell),
        mode === "engine" ? "1.00 (baseline)" : `${fixed(ratio, 3)}`,
        String(cell.tokensPerRound[0] ?? 0),
      ]);
    }
  }
  const targetRows: string[][] = [];
  for (const mode of ["websocket", "http-sse"] as const) {
    const ratios = concurrencies.map((concurrency) => {
      const cell = findCell(result.cells, mode, concurrency);
      const baseline = findCell(result.cells, "engine", concurrency);
      return cell && baseline ? cell.medianTokensPerSecond / baseline.medianTokensPerSecond : Number.NaN;
    });
    targetRows.push([
      `${modeLabels[mode]} ≥ ${targets.gatewayRatio}× (a) at every concurrency`,
      concurrencies.map((concurrency, index) => `×${concurrency}: ${fixed(ratios[index] as number, 3)}`).join(", "),
      metText(ratios.every((ratio) => ratio >= targets.gatewayRatio)),
    ]);
  }
  for (const mode of modes) {
    const single = findCell(result.cells, mode, 1);
    const four = findCell(result.cells, mode, 4);
    if (!single || !four) continue;
    const gain = four.medianTokensPerSecond / single.medianTokensPerSecond;
    targetRows.push([`${modeLabels[mode]}: 4 streams ≥ ${targets.batchingGain}× one stream`, `${fixed(gain, 2)}×`, metText(gain >= targets.batchingGain)]);
  }
  for (const concurrency of concurrencies.filter((count) => count > 1)) {
    const cell = findCell(result.cells, "engine", concurrency);
    if (!cell || cell.decodesPerRound.length === 0) continue;
    const decodes = median(cell.decodesPerRound);
    const limit = targets.decodesPerTokenStep * result.maxTokens;
    targetRows.push([`${modeLabels.engine}, ${concurrency} streams: ≤ ${fixed(limit, 0)} decodes per round (${targets.decodesPerTokenStep} × max_tokens)`, fixed(decodes, 0), metText(decodes <= limit)]);
  }
  const notes = [
    `Greedy decoding (temperature 0), max_tokens ${result.maxTokens}, ${result.repetitions} timed repetitions after one warm-up round;`,
    "aggregate tok/s = completion tokens of all streams ÷ time from the first request to the last finish (median over repetitions);",
    "TTFT = client-side time from the request to the first non-empty text delta (median and p90 over all streams of all repetitions);",
    `late starts = streams whose first token came after ${lateStartFraction * 100}% of their round (they waited for the others instead of joining the batch);`,
    `decodes per round = llama.cpp decode calls in a round (median), with the mean tokens per decode: N streams of ${result.maxTokens} tokens take about ${result.maxTokens} decodes of N when every stream is in every batch.`,
    "Modes run one after another inside each repetition (order rotated every repetition), all against the same loaded model and context;",
    "the WebSocket and HTTP clients run in the same Node process as the daemon (loopback), so client-side parsing is included.",
  ];
  const memory = [
    `Process RSS: ${fixed(result.rssBeforeLoadMb, 1)} MB before the daemon and model load, ${fixed(result.rssAfterLoadMb, 1)} MB after`,
    `(+${fixed(result.rssAfterLoadMb - result.rssBeforeLoadMb, 1)} MB), ${fixed(result.rssAfterBenchMb, 1)} MB after the throughput runs, peak ${fixed(result.maxRssMb, 1)} MB`,
    "(one process: daemon, model and benchmark clients).",
  ];
  const consistency =
    result.textMismatches.length === 0
      ? "Every stream's text matched the first text seen for its prompt, in all modes and concurrencies (deterministic greedy output)."
      : `Text mismatches against the first output seen for the same prompt: ${result.textMismatches.join("; ")}.`;
  return [
    "### Engine throughput: direct vs WebSocket vs HTTP SSE",
    "",
    notes.join("\n"),
    "",
    table(
      ["Mode", "Streams", "Aggregate tok/s (median)", "Range", "TTFT median (ms)", "TTFT p90 (ms)", "Late starts", "Decodes per round (tokens each)", "vs (a)", "Tokens per round"],
      rows,
    ),
    "",
    table(["Target", "Measured", "Result"], targetRows),
    "",
    memory.join("\n"),
    "",
    consistency,
    "",
    `Throughput section took ${fixed(result.secondsTaken, 1)} s.`,
  ].join("\n");
}

/** Median decodes per round and the tokens per decode over all rounds, or "n/a" without the engine's counter. */
function decodesText(cell: ThroughputResult["cells"][number]): string {
  if (cell.decodesPerRound.length === 0) return "n/a";
  const decodes = cell.decodesPerRound.reduce((sum, value) => sum + value, 0);
  const tokens = cell.decodedTokensPerRound.reduce((sum, value) => sum + value, 0);
  return `${fixed(median(cell.decodesPerRound), 0)} (${fixed(tokens / decodes, 2)})`;
}

function renderLateJoin(result: LateJoinResult): string {
  const stalled = result.reusedTtftMs > 5 * result.freshTtftMs && result.reusedTtftMs > 0.5 * result.runningTotalMs;
  const notes = [
    `Engine only (no gateway): ${result.runningStreams} streams start together; a short request arrives ${result.joinDelayMs} ms later on its own sequence`,
    "(each stream slot has its own conversation key, so it gets back the sequence it used before).",
    `After a warm-up, first one round with the late request on a never-used sequence, then ${result.rounds} rounds on its sequence from the round before,`,
    "which holds a different text: its old tokens are erased before the new prompt is evaluated (the case that used to wait for the running streams).",
  ];
  const rows = [
    ["Late request, never-used sequence", fixed(result.freshTtftMs, 2)],
    [`Late request, previously used sequence (median of ${result.rounds})`, fixed(result.reusedTtftMs, 2)],
    ["Running streams' total time (median)", fixed(result.runningTotalMs, 2)],
  ];
  const cached = result.lateCachedPromptTokens.map((value) => (value === undefined ? "n/a" : String(value))).join(", ");
  const verdict = stalled
    ? "The late request on a used sequence waits until the running streams finish instead of joining their batch."
    : "The late request joins the running batch on both fresh and used sequences.";
  return [
    "### Late join: a request arriving during generation",
    "",
    notes.join("\n"),
    "",
    table(["Time to first token", "ms"], rows),
    "",
    `Late request's cached prompt tokens per round: ${cached}.`,
    "",
    verdict,
  ].join("\n");
}

function renderContextReuse(result: ContextReuseResult): string {
  const last = result.turns;
  const perTurn = (variant: ReuseVariant, turn: number, value: (record: ReuseTurn) => number) =>
    variant.conversations.map((records) => records[turn - 1]).filter((record) => record !== undefined).map(value);
  const med = (variant: ReuseVariant, turn: number, value: (record: ReuseTurn) => number) => median(perTurn(variant, turn, value));
  const label = (variant: ReuseVariant) => (variant.reuse ? "on" : "off");
  const rows: string[][] = [];
  for (const turn of result.reportedTurns) {
    for (const variant of result.variants) {
      const ttfts = perTurn(variant, turn, (record) => record.ttftMs);
      const cached = perTurn(variant, turn, (record) => record.cachedPromptTokens ?? Number.NaN);
      const prompt = med(variant, turn, (record) => record.promptTokens);
      rows.push([
        String(turn),
        label(variant),
        fixed(prompt, 0),
        fixed(median(cached), 0),
        fixed(med(variant, turn, (record) => record.promptTokens - (record.cachedPromptTokens ?? Number.NaN)), 0),
        fixed(median(ttfts), 2),
        `${fixed(Math.min(...ttfts), 2)}–${fixed(Math.max(...ttfts), 2)}`,
        fixed(med(variant, turn, (record) => record.engineTtftMs), 2),
      ]);
    }
  }
  const ratio = (variant: ReuseVariant, value: (record: ReuseTurn) => number) => med(variant, last, value) / med(variant, 1, value);
  const targetRows: string[][] = [];
  for (const variant of result.variants) {
    const client = ratio(variant, (record) => record.ttftMs);
    const engine = ratio(variant, (record) => record.engineTtftMs);
    const measured =
      `client ${fixed(client, 2)}× (${fixed(med(variant, 1, (record) => record.ttftMs), 2)} → ${fixed(med(variant, last, (record) => record.ttftMs), 2)} ms), ` +
      `engine ${fixed(engine, 2)}×`;
    targetRows.push(
      variant.reuse
        ? [`Reuse on: turn ${last} TTFT ≤ ${targets.reuseTurnRatio}× turn 1 (client-side)`, measured, metText(client <= targets.reuseTurnRatio)]
        : [`Reuse off (for comparison): turn ${last} ÷ turn 1`, measured, "—"],
    );
  }
  const on = result.variants.find((variant) => variant.reuse);
  const off = result.variants.find((variant) => !variant.reuse);
  if (on && off) {
    const speedup = med(off, last, (record) => record.ttftMs) / med(on, last, (record) => record.ttftMs);
    targetRows.push([`Turn ${last}: TTFT with reuse off ÷ on (client-side)`, `${fixed(speedup, 2)}×`, "—"]);
  }
  const growth = on ? (med(on, last, (record) => record.promptTokens) - med(on, 1, (record) => record.promptTokens)) / Math.max(1, last - 1) : Number.NaN;
  const answerTokens = on ? median(on.conversations.flat().map((record) => record.completionTokens)) : Number.NaN;
  const longestPrompt = Math.max(...result.variants.flatMap((variant) => variant.conversations.flat().map((record) => record.promptTokens)));
  const contextNote =
    result.trainContextSize !== undefined && result.contextSize > result.trainContextSize
      ? ` (the model was trained on ${result.trainContextSize}: the larger context only leaves room, so the history is never trimmed; the longest prompt was ${longestPrompt} tokens)`
      : "";
  const notes = [
    `Two daemons side by side, identical but for \`agent.context_reuse\` (on / off): context ${result.contextSize} tokens per sequence${contextNote},`,
    `parallel ${result.parallel}, greedy (temperature 0), a system prompt of ${result.systemPromptTokens} tokens. Each conversation is ${result.turns} turns over WebSocket`,
    `with one session id, so the pipeline stores the history and re-sends it every turn: user messages of about ${fixed(result.userMessageTokens, 0)} tokens,`,
    `max_tokens ${result.maxTokens} (answers: median ${fixed(answerTokens, 0)} tokens), so the prompt grows by about ${fixed(growth, 0)} tokens a turn.`,
    `${result.conversations} conversations per variant, each with its own messages (the same for both daemons), alternating which daemon goes first, after an untimed`,
    "two-turn warm-up conversation per sequence on each daemon; medians over the conversations. TTFT client = chat frame sent → first non-empty text-delta frame;",
    "TTFT engine = the finish frame's timings.ttft_ms (from the engine's stream call; excludes loading the history and building the prompt).",
    "Cached = usage.cached_prompt_tokens (prompt tokens the sequence already held); evaluated = prompt − cached.",
  ];
  const differing = result.textMismatches.reduce((sum, mismatch) => sum + mismatch.turns.length, 0);
  const consistency =
    differing === 0
      ? `Answers with reuse on and off were identical in all ${result.comparedTurns} turns.`
      : `Answers with reuse on and off were identical in ${result.comparedTurns - differing} of ${result.comparedTurns} turns. They parted in ` +
        `${result.textMismatches.length} of ${result.conversations} conversations: ` +
        result.textMismatches
          .map(({ conversation, turns }) => `conversation ${conversation + 1} at turn ${turns[0]}${turns.length > 1 ? ` (differing turns: ${turns.join(", ")})` : ""}`)
          .join("; ") +
        ". From the first differing answer on, the two daemons' histories differ as well.";
  return [
    "### Context reuse: TTFT as a conversation grows",
    "",
    notes.join("\n"),
    "",
    table(["Turn", "Reuse", "Prompt tokens", "Cached", "Evaluated", "TTFT client median (ms)", "Range", "TTFT engine median (ms)"], rows),
    "",
    table(["Target", "Measured (medians)", "Result"], targetRows),
    "",
    consistency,
    "",
    `Context reuse section took ${fixed(result.secondsTaken, 1)} s.`,
  ].join("\n");
}

function renderEcho(result: EchoLatencyResult): string {
  const row = (label: string, summary: EchoLatencyResult["latency"]) => [label, fixed(summary.p50, 3), fixed(summary.p90, 3), fixed(summary.p99, 3), fixed(summary.max, 3)];
  const notes = [
    `Echo engine (no model), WebSocket, open loop at ${result.targetRate} requests/s over ${result.connections} connections:`,
    `${result.warmupSeconds} s warm-up, then ${result.seconds} s measured (${result.sent} requests); each request is a short message with max_tokens ${result.maxTokens}`,
    `(${result.maxTokens} text-delta frames, then finish). Latency = send → finish frame on the client. Requests are sent on schedule whatever the replies;`,
    "the \"from schedule\" row also counts the sender's own lateness (the client shares the event loop with the daemon).",
  ];
  const summaryRows: string[][] = [
    ["Achieved send rate", `${fixed(result.achievedSendRate, 1)} requests/s`],
    ["Achieved completion rate", `${fixed(result.achievedCompletionRate, 1)} requests/s`],
    ["Completed / errors / unanswered", `${result.completed} / ${result.errors} / ${result.lost}`],
    ["Sender lag p99 / max", `${fixed(result.sendLag.p99, 3)} / ${fixed(result.sendLag.max, 3)} ms`],
    ["Event-loop delay p99 / max", `${fixed(result.eventLoopDelayP99Ms, 3)} / ${fixed(result.eventLoopDelayMaxMs, 3)} ms`],
    ["GC pauses (count, total, longest)", `${result.gcPauses}, ${fixed(result.gcPauseTotalMs, 1)} ms, ${fixed(result.gcPauseMaxMs, 2)} ms`],
    [`Target: p99 < ${targets.echoP99Ms} ms`, `${fixed(result.latency.p99, 3)} ms: ${metText(result.latency.p99 < targets.echoP99Ms && result.errors === 0 && result.lost === 0)}`],
  ];
  return [
    "### Request latency: echo engine over WebSocket",
    "",
    notes.join("\n"),
    "",
    table(["Latency (ms)", "p50", "p90", "p99", "max"], [row("send → finish", result.latency), row("from schedule → finish", result.latencyFromSchedule)]),
    "",
    table(["", ""], summaryRows),
  ].join("\n");
}

/** Replaces the generated section of the document (creating the document or the section when missing). */
export function writeReport(reportPath: string, markdown: string): void {
  const section = `${sectionStart}\n\n${markdown}\n\n${sectionEnd}`;
  const existing = fs.existsSync(reportPath) ? fs.readFileSync(reportPath, "utf8") : undefined;
  let document: string;
  if (existing === undefined) {
    document = `${documentHeader}\n${section}\n`;
  } else {
    const start = existing.indexOf(sectionStart);
    const end = existing.indexOf(sectionEnd);
    document =
      start >= 0 && end > start
        ? existing.slice(0, start) + section + existing.slice(end + sectionEnd.length)
        : `${existing.trimEnd()}\n\n${section}\n`;
  }
  fs.mkdirSync(path.dirname(reportPath), { recursive: true });
  fs.writeFileSync(reportPath, document);
}

const documentHeader = `# Benchmarks

Generated by \`npm run bench\` (bench/run.ts); only the section between the markers below is rewritten.
`;

function packageVersion(name: string): string {
  const manifestPath = path.join(repositoryRoot, "node_modules", name, "package.json");
  try {
    return (JSON.parse(fs.readFileSync(manifestPath, "utf8")) as { version?: string }).version ?? "unknown";
  } catch {
    return "unknown";
  }
}

function loadText(load: number[]): string {
  return load.map((value) => value.toFixed(2)).join(" / ");
}

function metText(met: boolean): string {
  return met ? "met" : "**not met**";
}

function fixed(value: number, digits: number): string {
  return Number.isFinite(value) ? value.toFixed(digits) : "n/a";
}

function table(header: string[], rows: string[][]): string {
  const line = (cells: string[]) => `| ${cells.join(" | ")} |`;
  return [line(header), line(header.map(() => "---")), ...rows.map(line)].join("\n");
}
