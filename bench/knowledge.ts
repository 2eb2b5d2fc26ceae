// Knowledge base at scale: ingest a seeded 100k-record corpus, then BM25, vector and hybrid query latency, recall and memory.
// Runs in a child process of its own (`runKnowledge`), so the memory it reports is the knowledge base's alone.
import { spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { knowledgeSchema } from "../src/config/schema.js";
import { silentLogger } from "../src/logging/logger.js";
import { ingest } from "../src/knowledge/ingest.js";
import { KnowledgeDatabase } from "../src/knowledge/knowledge-database.js";
import { openModelEmbedder } from "../src/knowledge/knowledge-embedder.js";
import { KnowledgeSearch } from "../src/knowledge/knowledge-search.js";
import type { KnowledgeEmbedder } from "../src/knowledge/knowledge-types.js";
import { defaultRecordFields } from "../src/knowledge/record-document.js";
import { TextSegmenter } from "../src/knowledge/text-segmenter.js";
import { syncVectorIndex, VectorIndex, vectorIndexFile } from "../src/knowledge/vector-index.js";
import { corpusQueries, writeCorpus, type CorpusQuery } from "./knowledge-corpus.js";
import { readStoredVectors, recallAt10, TermHashVectors, termHashModel, writeTermHashVectors, type RecallMeasure } from "./knowledge-vectors.js";
import { BenchSetupError } from "./options.js";
import { summarize, type LatencySummary } from "./stats.js";

const repositoryRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");

export interface KnowledgeSettings {
  records: number;
  /** Records ingested with the test model as embedder (0: that part is skipped). */
  embedRecords: number;
  queries: number;
  /** Queries whose vector results are checked against brute force. */
  recallQueries: number;
  seed: number;
  threads: number;
  /** The embedding model (the test model) when embedRecords > 0. */
  modelPath: string;
}

export interface IngestMeasure {
  records: number;
  documents: number;
  chunks: number;
  vectors: number;
  seconds: number;
  recordsPerSecond: number;
  /** Database file with its WAL right after the ingest, and after a checkpoint (the WAL folded in and truncated). */
  bytesAfterIngest: number;
  bytesCheckpointed: number;
  rssBeforeMb: number;
  rssPeakMb: number;
  rssAfterMb: number;
}

export interface KnowledgeResult {
  settings: KnowledgeSettings;
  corpus: { records: number; english: number; markers: number; bytes: number; seconds: number; notesLength: { min: number; mean: number; max: number } };
  bm25Ingest: IngestMeasure;
  /** Writing term-hash vectors (bench/knowledge-vectors.ts) for every chunk (useEmbedding + writeVectors): the vectors for the latency test. */
  termVectors: { model: string; dimensions: number; count: number; vocabulary: number; seconds: number; bytesAfter: number };
  /** Building the HNSW index of the term-hash vectors (`syncVectorIndex`) and its file's size. */
  vectorIndex?: { vectors: number; seconds: number; bytes: number };
  latency: { keyword: LatencySummary; nearest: LatencySummary; hybrid: LatencySummary };
  queries: { total: number; chinese: number; english: number; marker: number };
  /** Marker queries whose record came first in the BM25 ranking. */
  markerRankOne: { keyword: number; total: number };
  recall: RecallMeasure;
  /** The same recall split: queries for a marker code (one rare term) and topic queries (diagnoses, drugs, symptoms). */
  recallByKind: { marker: RecallMeasure; topic: RecallMeasure };
  /** With the test model as embedder (undefined when skipped); recall of the vector path for the model's query vectors. */
  embedded?: IngestMeasure & { model: string; dimensions: number; queryEmbedding: LatencySummary; recall: KnowledgeResult["recall"] };
  /** The kernel's high-water mark of the child's RSS over the whole run. */
  maxRssMb: number;
  secondsTaken: number;
}

/** Runs the measurement in a child process (`--child`), its progress on this process's stderr. */
export async function runKnowledge(settings: KnowledgeSettings, log: (line: string) => void): Promise<KnowledgeResult> {
  const directory = fs.mkdtempSync(path.join(os.tmpdir(), "clawbot-bench-kb-"));
  const resultFile = path.join(directory, "result.json");
  try {
    const child = spawn(process.execPath, ["--import", "tsx", fileURLToPath(import.meta.url), "--child", JSON.stringify(settings), resultFile], {
      cwd: repositoryRoot,
      stdio: ["ignore", "inherit", "pipe"],
    });
    let tail = "";
    child.stderr.setEncoding("utf8");
    child.stderr.on("data", (text: string) => {
      tail = (tail + text).slice(-4000);
      for (const line of text.split("\n")) if (line.trim() !== "") log(line);
    });
    const code = await new Promise<number | null>((resolve) => child.on("close", resolve));
    if (code !== 0 || !fs.existsSync(resultFile)) throw new Error(`knowledge benchmark child exited with ${code}: ${tail.trim().split("\n").slice(-3).join(" | ")}`);
    return JSON.parse(fs.readFileSync(resultFile, "utf8")) as KnowledgeResult;
  } finally {
    fs.rmSync(directory, { recursive: true, force: true });
  }
}

async function measureKnowledge(settings: KnowledgeSettings, log: (line: string) => void): Promise<KnowledgeResult> {
  const startedAt = performance.now();
  const directory = fs.mkdtempSync(path.join(os.tmpdir(), "clawbot-bench-kb-data-"));
  try {
    const corpusFile = path.join(directory, "records.jsonl");
    const corpusStart = performance.now();
    const corpus = await writeCorpus(corpusFile, { records: settings.records, seed: settings.seed });
    const corpusSeconds = (performance.now() - corpusStart) / 1000;
    log(`  corpus: ${corpus.records} records (${corpus.english} English, ${corpus.markers.length} with a marker), ${megabytes(corpus.bytes).toFixed(1)} MB in ${corpusSeconds.toFixed(1)} s`);
    const config = knowledgeSchema.parse({});
    const segmenter = TextSegmenter.create();

    const databaseFile = path.join(directory, "knowledge.db");
    const database = KnowledgeDatabase.open(databaseFile, { segmenter });
    const bm25Ingest = await measureIngest(database, corpusFile, undefined, corpus.records, log);
    log(`  BM25-only ingest: ${bm25Ingest.chunks} chunks in ${bm25Ingest.seconds.toFixed(1)} s (${bm25Ingest.recordsPerSecond.toFixed(0)} records/s), peak RSS ${bm25Ingest.rssPeakMb.toFixed(0)} MB`);

    const queries = corpusQueries(corpus.markers, settings.queries, settings.seed);
    const search = new KnowledgeSearch(database, { fusion: config.fusion });
    const keyword = timeEach(queries, (query) => search.keyword(query.text, "*", 10));
    const markerQueries = queries.filter((query) => query.expectedId !== undefined);
    const markerHits = markerQueries.filter((query) => search.keyword(query.text, "*", 10)[0]?.docId === query.expectedId).length;

    // Vectors for the latency test: term-hash vectors of the chunks' texts, embedding-like (texts sharing terms lie near)
    // and cheap; the test model's would take long for 100k chunks.
    const dimensions = 384;
    const vectorStart = performance.now();
    database.useEmbedding(termHashModel, dimensions);
    const termHash = new TermHashVectors(segmenter, dimensions, settings.seed);
    const vectorCount = writeTermHashVectors(database, termHash);
    const termVectors = { model: termHashModel, dimensions, count: vectorCount, vocabulary: termHash.vocabulary, seconds: (performance.now() - vectorStart) / 1000, bytesAfter: database.stats().bytes };
    log(`  ${vectorCount} term-hash vectors (${termHash.vocabulary} distinct terms) written in ${termVectors.seconds.toFixed(1)} s`);
    const synced = syncVectorIndex(database, { threads: settings.threads });
    const vectorIndex = { vectors: synced.vectors, seconds: synced.seconds, bytes: fs.statSync(vectorIndexFile(databaseFile)).size };
    log(`  vector index: ${synced.vectors} vectors ${synced.action} in ${synced.seconds.toFixed(1)} s, ${megabytes(vectorIndex.bytes).toFixed(1)} MB`);
    const indexed = new VectorIndex(database);
    const vectorSearch = new KnowledgeSearch(database, { fusion: config.fusion, vectorIndex: indexed });

    // Each query's vector is its text's term-hash vector, computed beforehand and "given" to the hybrid search by an embedder that only looks it up.
    const queryVectors = new Map<string, Float32Array>();
    for (const query of queries) queryVectors.set(query.text, termHash.vector(query.text));
    const vectorOf = (query: CorpusQuery) => queryVectors.get(query.text) as Float32Array;
    const nearest = timeEach(queries, (query) => vectorSearch.nearest(vectorOf(query), "*", 10));
    const hybridSearch = new KnowledgeSearch(database, { fusion: config.fusion, embedder: givenVectors(queryVectors, dimensions), vectorIndex: indexed });
    const hybrid = await timeEachAsync(queries, (query) => hybridSearch.search({ text: query.text, collections: "*", topK: 10 }));
    log(`  latency p50/p99 (ms): keyword ${fixed(keyword.p50)}/${fixed(keyword.p99)}, nearest ${fixed(nearest.p50)}/${fixed(nearest.p99)}, hybrid ${fixed(hybrid.p50)}/${fixed(hybrid.p99)}`);

    const stored = readStoredVectors(database, dimensions);
    const recallOf = (checked: CorpusQuery[]) => recallAt10(stored, checked.map(vectorOf), (vector) => vectorSearch.nearest(vector, "*", 10).map((chunk) => chunk.chunkId));
    const recallQueries = queries.slice(0, settings.recallQueries);
    const recall = recallOf(recallQueries);
    const recallByKind = { marker: recallOf(recallQueries.filter((query) => query.expectedId !== undefined)), topic: recallOf(recallQueries.filter((query) => query.expectedId === undefined)) };
    log(`  recall@10 against brute force over ${stored.ids.length} stored vectors: mean ${recall.meanRecallAt10.toFixed(4)} (within ε = 0.01 of the 10th distance ${recall.meanEpsilonRecallAt10.toFixed(4)}), min ${recall.minRecallAt10.toFixed(2)} (${recall.queries} queries)`);
    log(`  recall@10 by kind: marker queries ${recallByKind.marker.meanRecallAt10.toFixed(4)} (ε ${recallByKind.marker.meanEpsilonRecallAt10.toFixed(4)}, ${recallByKind.marker.queries}), topic queries ${recallByKind.topic.meanRecallAt10.toFixed(4)} (ε ${recallByKind.topic.meanEpsilonRecallAt10.toFixed(4)}, ${recallByKind.topic.queries})`);
    database.close();

    const embedded = settings.embedRecords > 0 ? await measureEmbedded(settings, directory, queries, log) : undefined;
    return {
      settings,
      corpus: { records: corpus.records, english: corpus.english, markers: corpus.markers.length, bytes: corpus.bytes, seconds: corpusSeconds, notesLength: corpus.notesLength },
      bm25Ingest,
      termVectors,
      vectorIndex,
      latency: { keyword, nearest, hybrid },
      queries: { total: queries.length, chinese: queries.filter((query) => query.language === "zh").length, english: queries.filter((query) => query.language === "en").length, marker: markerQueries.length },
      markerRankOne: { keyword: markerHits, total: markerQueries.length },
      recall,
      recallByKind,
      embedded,
      maxRssMb: process.resourceUsage().maxRSS / 1024,
      secondsTaken: (performance.now() - startedAt) / 1000,
    };
  } finally {
    fs.rmSync(directory, { recursive: true, force: true });
  }
}

/** Ingest of the corpus's first `embedRecords` records with the test model as embedder, and the time one query's vector takes. */
async function measureEmbedded(settings: KnowledgeSettings, directory: string, queries: CorpusQuery[], log: (line: string) => void): Promise<KnowledgeResult["embedded"]> {
  const corpusFile = path.join(directory, "records-embedded.jsonl");
  const corpus = await writeCorpus(corpusFile, { records: settings.embedRecords, seed: settings.seed });
  const embedder = await openModelEmbedder(settings.modelPath, { threads: settings.threads, logger: silentLogger });
  const database = KnowledgeDatabase.open(path.join(directory, "knowledge-embedded.db"), { segmenter: TextSegmenter.create() });
  try {
    const measure = await measureIngest(database, corpusFile, embedder, corpus.records, log);
    log(`  ingest with ${path.basename(settings.modelPath)} as embedder: ${measure.records} records, ${measure.vectors} vectors in ${measure.seconds.toFixed(1)} s (${measure.recordsPerSecond.toFixed(0)} records/s)`);
    const queryEmbedding = await timeEachAsync(queries, (query) => embedder.embed([query.text]));
    const stored = readStoredVectors(database, embedder.dimensions);
    const synced = syncVectorIndex(database, { threads: settings.threads });
    log(`  vector index of the model vectors: ${synced.vectors} vectors ${synced.action} in ${synced.seconds.toFixed(1)} s`);
    const search = new KnowledgeSearch(database, { fusion: knowledgeSchema.parse({}).fusion, vectorIndex: new VectorIndex(database) });
    const queryVectors: Float32Array[] = [];
    for (const query of queries.slice(0, settings.recallQueries)) queryVectors.push(((await embedder.embed([query.text])) as Float32Array[])[0] as Float32Array);
    const recall = recallAt10(stored, queryVectors, (vector) => search.nearest(vector, "*", 10).map((chunk) => chunk.chunkId));
    log(`  recall@10 of ${embedder.dimensions}-dimension model vectors against brute force over ${stored.ids.length}: mean ${recall.meanRecallAt10.toFixed(4)} (within ε = 0.01 of the 10th distance ${recall.meanEpsilonRecallAt10.toFixed(4)}), min ${recall.minRecallAt10.toFixed(2)} (${recall.queries} queries)`);
    return { ...measure, model: path.basename(settings.modelPath), dimensions: embedder.dimensions, queryEmbedding, recall };
  } finally {
    database.close();
    await embedder.close();
  }
}

async function measureIngest(database: KnowledgeDatabase, file: string, embedder: KnowledgeEmbedder | undefined, records: number, log: (line: string) => void): Promise<IngestMeasure> {
  const rssBefore = process.memoryUsage.rss();
  let rssPeak = rssBefore;
  const sampler = setInterval(() => (rssPeak = Math.max(rssPeak, process.memoryUsage.rss())), 25);
  const start = performance.now();
  try {
    await ingestCorpus(database, file, embedder, log);
  } finally {
    clearInterval(sampler);
  }
  const seconds = (performance.now() - start) / 1000;
  const rssAfter = process.memoryUsage.rss();
  rssPeak = Math.max(rssPeak, rssAfter);
  const stats = database.stats();
  const bytesAfterIngest = stats.bytes;
  database.sqlite.pragma("wal_checkpoint(TRUNCATE)");
  return {
    records,
    documents: stats.documents,
    chunks: stats.chunks,
    vectors: stats.vectors,
    seconds,
    recordsPerSecond: records / seconds,
    bytesAfterIngest,
    bytesCheckpointed: database.stats().bytes,
    rssBeforeMb: megabytes(rssBefore),
    rssPeakMb: megabytes(rssPeak),
    rssAfterMb: megabytes(rssAfter),
  };
}

/** The corpus through `ingest()`, as `clawbot kb ingest FILE --collection records --meta-fields department,diagnosis` does. */
async function ingestCorpus(database: KnowledgeDatabase, file: string, embedder: KnowledgeEmbedder | undefined, log: (line: string) => void): Promise<void> {
  const config = knowledgeSchema.parse({});
  let lastLog = performance.now();
  const report = await ingest(database, [file], {
    collection: "records",
    // No text field in the records: every field but the id becomes a line of the text (department, diagnosis, notes).
    fields: { ...defaultRecordFields, metaFields: ["department", "diagnosis"] },
    chunk: { maxTokens: config.chunk.max_tokens, overlapTokens: config.chunk.overlap_tokens },
    embedder,
    onProgress: (progress) => {
      if (performance.now() - lastLog < 15_000) return;
      lastLog = performance.now();
      log(`    ${progress.documents} documents, ${progress.chunks} chunks, ${progress.rate.toFixed(0)}/s`);
    },
  });
  if (report.files.failed.length > 0) throw new Error(`ingest failed: ${report.files.failed.map((failure) => failure.error).join("; ")}`);
}

/** An embedder that returns the vector prepared for each query text: hybrid search timed without computing query vectors. */
function givenVectors(vectors: ReadonlyMap<string, Float32Array>, dimensions: number): KnowledgeEmbedder {
  return {
    id: termHashModel,
    dimensions,
    maxTokens: 512,
    embed: (texts) => Promise.resolve(texts.map((text) => vectors.get(text) ?? new Float32Array(dimensions).fill(1 / Math.sqrt(dimensions)))),
    countTokens: (text) => text.length,
    close: () => Promise.resolve(),
  };
}

function timeEach<Item>(items: readonly Item[], work: (item: Item) => unknown): LatencySummary {
  for (const item of items.slice(0, 10)) work(item); // warm-up: statements prepared, pages cached
  const times = items.map((item) => {
    const start = performance.now();
    work(item);
    return performance.now() - start;
  });
  return summarize(times);
}

async function timeEachAsync<Item>(items: readonly Item[], work: (item: Item) => Promise<unknown>): Promise<LatencySummary> {
  for (const item of items.slice(0, 10)) await work(item);
  const times: number[] = [];
  for (const item of items) {
    const start = performance.now();
    await work(item);
    times.push(performance.now() - start);
  }
  return summarize(times);
}

function megabytes(bytes: number): number {
  return bytes / 1024 ** 2;
}

function fixed(value: number): string {
  return value.toFixed(2);
}

// The child: `node --import tsx bench/knowledge.ts --child SETTINGS_JSON RESULT_FILE`.
if (process.argv[2] === "--child" && process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const [settingsText, resultFile] = process.argv.slice(3);
  try {
    const result = await measureKnowledge(JSON.parse(settingsText as string) as KnowledgeSettings, (line) => process.stderr.write(`${line}\n`));
    fs.writeFileSync(resultFile as string, JSON.stringify(result));
  } catch (error) {
    process.stderr.write(`${error instanceof BenchSetupError ? error.message : error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exitCode = 1;
  }
}
