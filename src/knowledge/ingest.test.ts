// ingest() and embedMissing() on a real knowledge base file: batches, change detection, a failure midway and its resume, vectors.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { EchoEngine } from "../engine/echo/echo-engine.js";
import { embedMissing, ingest, type IngestOptions, type IngestProgress } from "./ingest.js";
import { KnowledgeDatabase } from "./knowledge-database.js";
import { engineEmbedder } from "./knowledge-embedder.js";
import type { KnowledgeEmbedder } from "./knowledge-types.js";
import { TextSegmenter } from "./text-segmenter.js";

const segmenter = TextSegmenter.create();
let directory: string;
let database: KnowledgeDatabase;
const options: IngestOptions = { collection: "c", chunk: { maxTokens: 64, overlapTokens: 8 }, batchSize: 10 };

beforeEach(() => {
  directory = fs.mkdtempSync(path.join(os.tmpdir(), "clawbot-ingest-"));
  database = KnowledgeDatabase.open(path.join(directory, "knowledge.db"), { segmenter });
});
afterEach(() => {
  database.close();
  fs.rmSync(directory, { recursive: true, force: true });
});

function records(count: number, text = (index: number) => `record ${index} about topic${index}`): string {
  return Array.from({ length: count }, (_value, index) => JSON.stringify({ id: `r${index}`, text: text(index) })).join("\n") + "\n";
}

/** An embedder (the echo engine's vectors) that fails its `failAt`-th call, as a crash midway would. */
function failingEmbedder(failAt: number): KnowledgeEmbedder & { calls: number } {
  const inner = engineEmbedder(new EchoEngine({ parallel: 1, maxQueue: 0, contextSize: 4096 }));
  const embedder = {
    calls: 0,
    id: inner.id,
    dimensions: inner.dimensions,
    maxTokens: inner.maxTokens,
    countTokens: inner.countTokens,
    close: () => inner.close(),
    async embed(texts: string[]) {
      embedder.calls += 1;
      if (embedder.calls === failAt) throw new Error("simulated crash");
      return inner.embed(texts);
    },
  };
  return embedder;
}

describe("ingest", () => {
  it("writes every record in batches, reports progress, and skips the unchanged file on the next run", async () => {
    const file = path.join(directory, "records.jsonl");
    fs.writeFileSync(file, records(35));
    const progress: IngestProgress[] = [];
    const report = await ingest(database, [file], { ...options, onProgress: (update) => progress.push(update) });
    expect(report.files).toMatchObject({ ingested: 1, unchanged: 0, failed: [] });
    expect(report.documents).toEqual({ added: 35, updated: 0, unchanged: 0, deleted: 0 });
    expect(report.chunks).toBe(35);
    expect(database.stats()).toMatchObject({ documents: 35, chunks: 35, vectors: 0 });
    // One update per written batch of 10, and one when the file is done.
    expect(progress.map((update) => update.documents)).toEqual([10, 20, 30, 35]);
    expect(progress.at(-1)).toMatchObject({ bytesRead: fs.statSync(file).size, totalBytes: fs.statSync(file).size, chunks: 35 });
    const again = await ingest(database, [file], options);
    expect(again.files).toMatchObject({ ingested: 0, unchanged: 1 });
    expect(again.documents).toEqual({ added: 0, updated: 0, unchanged: 0, deleted: 0 });
  });

  it("after a failure midway keeps the written batches, leaves the file unrecorded, and the re-run completes it", async () => {
    const file = path.join(directory, "records.jsonl");
    fs.writeFileSync(file, records(35));
    await expect(ingest(database, [file], { ...options, embedder: failingEmbedder(3) })).rejects.toThrow("simulated crash");
    expect(database.stats()).toMatchObject({ documents: 20, chunks: 20, vectors: 20 });
    expect(database.fileHash("c", file)).toBeUndefined();
    const resumed = await ingest(database, [file], { ...options, embedder: failingEmbedder(0) });
    expect(resumed.documents).toEqual({ added: 15, updated: 0, unchanged: 20, deleted: 0 });
    expect(database.stats()).toMatchObject({ documents: 35, chunks: 35, vectors: 35, embedding: { model: "engine:echo" } });
    expect(database.fileHash("c", file)).toBeDefined();
  });

  it("fails a file with a duplicate id by name, and ingests the others", async () => {
    const good = path.join(directory, "good.jsonl");
    const duplicate = path.join(directory, "duplicate.jsonl");
    fs.writeFileSync(good, records(3));
    fs.writeFileSync(duplicate, '{"id":"x","text":"one"}\n{"id":"x","text":"two"}\n');
    const report = await ingest(database, [directory], options);
    expect(report.files.failed).toEqual([{ file: duplicate, error: `${duplicate}:2: the id "x" was already used at ${duplicate}:1` }]);
    expect(report.files.ingested).toBe(1);
    // The failed file's records read before the failure were still in an unwritten batch.
    expect(database.stats().documents).toBe(3);
  });

  it("keeps chunks within the embedder's maxTokens", async () => {
    const file = path.join(directory, "long.txt");
    fs.writeFileSync(file, "word ".repeat(400));
    const embedder = { ...failingEmbedder(0), maxTokens: 20 };
    const report = await ingest(database, [file], { ...options, chunk: { maxTokens: 256, overlapTokens: 0 }, embedder });
    const tokens = database.sqlite.prepare<[], { tokens: number }>("SELECT tokens FROM kb_chunks").all().map((row) => row.tokens);
    expect(tokens).toHaveLength(report.chunks);
    expect(report.chunks).toBeGreaterThanOrEqual(25);
    expect(Math.max(...tokens)).toBeLessThanOrEqual(20);
  });
});

describe("embedMissing", () => {
  it("computes vectors for the chunks ingested without a model, batch by batch", async () => {
    const file = path.join(directory, "records.jsonl");
    fs.writeFileSync(file, records(25));
    await ingest(database, [file], options);
    expect(database.stats().vectors).toBe(0);
    const embedder = failingEmbedder(0);
    const progress: number[] = [];
    expect(await embedMissing(database, embedder, { batchSize: 10, onProgress: (update) => progress.push(update.vectors) })).toBe(25);
    expect(progress).toEqual([10, 20, 25]);
    expect(embedder.calls).toBe(3);
    expect(database.stats()).toMatchObject({ chunks: 25, vectors: 25 });
    expect(await embedMissing(database, embedder)).toBe(0);
  });
});

describe("engineEmbedder", () => {
  it("names the engine's model and refuses an engine that cannot embed", async () => {
    const echo = engineEmbedder(new EchoEngine({ parallel: 1, maxQueue: 0, contextSize: 64 }));
    expect(echo.id).toBe("engine:echo");
    const [vector] = await echo.embed(["hello"]);
    expect(vector).toBeInstanceOf(Float32Array);
    expect(vector?.length).toBe(echo.dimensions);
    const engine = new EchoEngine({ parallel: 1, maxQueue: 0, contextSize: 64 });
    const mute = engineEmbedder(Object.assign(Object.create(engine) as EchoEngine, { embed: undefined, info: { ...engine.info, embeddingDimensions: undefined } }));
    expect(() => mute.dimensions).toThrow(/cannot compute embeddings/);
    await expect(mute.embed(["x"])).rejects.toMatchObject({ code: "bad_request" });
  });
});
