// `npm run bench`: echo latency, engine throughput (direct vs WebSocket vs HTTP SSE), late join, context reuse, the knowledge base;
// prints the report, and writes it into docs/benchmarks.md only with `--write-report` (or into BENCH_REPORT=path).
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { runContextReuse } from "./context-reuse.js";
import { runReuseLoad } from "./reuse-load.js";
import { runEchoLatency } from "./echo-latency.js";
import { runKnowledge } from "./knowledge.js";
import { runLateJoin } from "./late-join.js";
import { runLongSession } from "./long-session.js";
import { runObservabilityOverhead } from "./observability-overhead.js";
import { runClusterHop } from "./cluster-hop.js";
import { BenchSetupError, readBenchOptions } from "./options.js";
import { benchTestModelPath, resolveBenchModel } from "./realistic-model.js";
import { runScale } from "./scale.js";
import { renderResults, writeReport, type BenchResults } from "./report.js";
import { runThroughput } from "./throughput.js";
import { runToolPromptCost, toolPromptCostOptions } from "./tool-prompt-cost.js";
import { runWatermark, watermarkOptions } from "./watermark.js";

const repositoryRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");

async function main(): Promise<void> {
  const options = readBenchOptions();
  const results: BenchResults = { options, startedAt: new Date(), loadAverageAtStart: os.loadavg() };
  const log = (line: string) => process.stderr.write(`${line}\n`);
  // The model is found (or its absence reported) before anything runs, not after minutes of other measurements.
  const needsModel = !options.skipThroughput || !options.skipLateJoin || !options.skipContextReuse || !options.skipWatermark || !options.skipTools;
  const modelPath = needsModel ? await resolveBenchModel(options.modelPath, log) : "";
  // The knowledge base's embedding run always uses the test model (whatever BENCH_MODEL says): issue 12 names it.
  const embeddingModelPath = !options.skipKnowledge && options.kbEmbedRecords > 0 ? await benchTestModelPath() : "";
  // Echo first, in a fresh process: a small heap and no model threads, so its tail latency is the gateway's own.
  if (!options.skipEcho) {
    log("echo latency:");
    results.echo = await runEchoLatency(options, log);
  }
  if (!options.skipLongSession) {
    log("long sessions:");
    results.longSession = await runLongSession(options, log);
  }
  if (!options.skipOverhead) {
    log("observability overhead:");
    results.overhead = await runObservabilityOverhead(options, log);
  }
  if (!options.skipCluster) {
    log("cluster hop:");
    results.clusterHop = await runClusterHop(options, log);
  }
  if (!options.skipScale) {
    log(`scale: ${options.scaleIdle} idle + ${options.scaleStreaming} streaming WebSocket connections (node as a child process)`);
    results.scale = await runScale(options, log);
  }
  if (!options.skipThroughput) {
    log(
      `throughput: ${path.basename(modelPath)}, threads ${options.threads}, parallel ${options.parallel}, ` +
        `streams ${options.concurrencies.join("/")}, max_tokens ${options.maxTokens}, ${options.repetitions} repetitions`,
    );
    results.throughput = await runThroughput(options, modelPath, log);
  }
  if (!options.skipLateJoin) {
    log("late join:");
    results.lateJoin = await runLateJoin(options, modelPath);
  }
  if (!options.skipContextReuse) {
    log(
      `context reuse: ${options.reuseConversations} conversations × ${options.reuseTurns} turns, reuse on and off, ` +
        `context ${options.reuseContextSize}, ~${options.reuseMessageTokens}-token messages, max_tokens ${options.reuseMaxTokens}`,
    );
    results.contextReuse = await runContextReuse(options, modelPath, log);
  }
  if (!options.skipContextReuse && !options.skipReuseLoad) {
    log(`context reuse under load (${options.reuseParallel} and ${2 * options.reuseParallel} conversations) and past a ${options.pastContextSize}-token context:`);
    results.reuseLoad = await runReuseLoad(options, modelPath, log);
  }
  if (!options.skipWatermark) {
    const settings = watermarkOptions(options);
    log(`watermark: ${settings.answers} prompts, a plain and a watermarked answer of ${settings.maxTokens} tokens each at temperature ${settings.temperature}`);
    results.watermark = await runWatermark(settings, modelPath, log);
  }
  if (!options.skipTools) {
    log(`tool catalog cost: ${options.toolsRepetitions} two-turn conversations with 10 tools and with none`);
    results.tools = await runToolPromptCost(toolPromptCostOptions(options), modelPath, log);
  }
  if (!options.skipKnowledge) {
    log(`knowledge base: ${options.kbRecords} records BM25-only, ${options.kbEmbedRecords} with the test model as embedder, ${options.kbQueries} queries (child process)`);
    results.knowledge = await runKnowledge(
      {
        records: options.kbRecords,
        embedRecords: options.kbEmbedRecords,
        queries: options.kbQueries,
        recallQueries: options.kbRecallQueries,
        seed: options.kbSeed,
        threads: options.threads,
        modelPath: embeddingModelPath,
      },
      log,
    );
  }
  results.loadAverageAtEnd = os.loadavg();
  // Every measurement (each stream, each turn, with its text) as JSON, for a closer look.
  if (process.env.BENCH_RAW) fs.writeFileSync(path.resolve(process.env.BENCH_RAW), JSON.stringify(results, null, 1));
  const markdown = renderResults(results);
  process.stdout.write(`\n${markdown}\n`);
  if (options.reportPath) {
    const reportPath = path.resolve(repositoryRoot, options.reportPath);
    writeReport(reportPath, markdown);
    log(`\nwrote ${path.relative(process.cwd(), reportPath) || reportPath}`);
  } else {
    log("\nnot written anywhere: `npm run bench -- --write-report` updates docs/benchmarks.md, BENCH_REPORT=path writes there");
  }
}

main().catch((error: unknown) => {
  // A setting to change is one line; anything else is a bug in the bench or the node, with its stack.
  const message = error instanceof BenchSetupError ? error.message : error instanceof Error ? (error.stack ?? error.message) : String(error);
  process.stderr.write(`bench failed: ${message}\n`);
  process.exitCode = 1;
});
