import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { KnowledgeDatabase } from "./knowledge-database.js";
import { KnowledgeSearch } from "./knowledge-search.js";
import type { DocumentWrite, KnowledgeEmbedder } from "./knowledge-types.js";
import { fuseRankings } from "./rank-fusion.js";
import { TextSegmenter } from "./text-segmenter.js";

const segmenter = TextSegmenter.create();
const fusion = { bm25_weight: 1, vector_weight: 1, rrf_k: 60 };

function document(docId: string, text: string, overrides: Partial<DocumentWrite> = {}): DocumentWrite {
  return { collection: "records", docId, source: `${docId}.txt`, file: `/data/${docId}.txt`, hash: docId, metadata: { id: docId }, chunks: [{ text, tokens: 10 }], ...overrides };
}

function axis(index: number): Float32Array {
  const vector = new Float32Array(8);
  vector[index] = 1;
  return vector;
}

/** An embedder whose query vectors are set per query text by the test. */
function fakeEmbedder(vectors: Record<string, Float32Array>, id = "fake-8"): KnowledgeEmbedder {
  return {
    id,
    dimensions: 8,
    maxTokens: 512,
    embed: async (texts) => texts.map((text) => vectors[text] ?? axis(7)),
    countTokens: (text) => text.length,
    close: async () => {},
  };
}

describe("KnowledgeSearch", () => {
  let directory: string;
  let database: KnowledgeDatabase;

  beforeEach(() => {
    directory = fs.mkdtempSync(path.join(os.tmpdir(), "clawbot-kb-search-"));
    database = KnowledgeDatabase.open(path.join(directory, "knowledge.db"), { segmenter });
  });
  afterEach(() => {
    database.close();
    fs.rmSync(directory, { recursive: true, force: true });
  });

  const docIds = (results: { docId: string }[]) => results.map((result) => result.docId);

  it("ranks first the one document holding a Chinese term, with its metadata and position", async () => {
    database.writeDocuments([
      document("a", "患者主诉头痛三天，诊断为偏头痛。"),
      document("b", "患者主诉胸闷，诊断为冠心病，电子病历已归档。"),
      document("c", "患者咳嗽两周，诊断为慢性支气管炎。"),
    ]);
    const search = new KnowledgeSearch(database, { fusion });
    const [first, ...rest] = await search.search({ text: "冠心病患者的病历", collections: "*", topK: 3 });
    expect(first).toMatchObject({ docId: "b", collection: "records", source: "b.txt", chunk: 0, tokens: 10, metadata: { id: "b" } });
    expect(first!.text).toContain("冠心病");
    expect(first!.score).toBeGreaterThan(0);
    expect(rest.every((result) => result.score <= first!.score)).toBe(true);
    expect(search.mode).toBe("bm25");
  });

  it("matches English words by their stem (diagnoses ↔ diagnosis, patients ↔ patient)", async () => {
    database.writeDocuments([document("a", "The diagnosis was confirmed by imaging."), document("b", "A patient with a fever."), document("c", "Nothing relevant here.")]);
    const search = new KnowledgeSearch(database, { fusion });
    expect(docIds(await search.search({ text: "diagnoses", collections: "*", topK: 5 }))).toEqual(["a"]);
    expect(docIds(await search.search({ text: "Patients", collections: "*", topK: 5 }))).toEqual(["b"]);
    expect(await search.search({ text: "？！ the of", collections: "*", topK: 5 })).toEqual([]);
  });

  it("searches only the collections in scope", async () => {
    database.writeDocuments([document("a", "糖尿病 随访"), document("b", "糖尿病 复查", { collection: "private" }), document("c", "糖尿病", { collection: "other" })]);
    const search = new KnowledgeSearch(database, { fusion });
    expect(docIds(await search.search({ text: "糖尿病", collections: ["records"], topK: 5 }))).toEqual(["a"]);
    expect(docIds(await search.search({ text: "糖尿病", collections: ["records", "other"], topK: 5 })).sort()).toEqual(["a", "c"]);
    expect(await search.search({ text: "糖尿病", collections: [], topK: 5 })).toEqual([]);
    expect(docIds(await search.search({ text: "糖尿病", collections: "*", topK: 5 })).sort()).toEqual(["a", "b", "c"]);
  });

  it("ranks by the rare terms when a query also has terms in most chunks, and still answers a query of common terms only", async () => {
    const common = Array.from({ length: 6 }, (_, index) => document(`d${index}`, `患者 住院 记录 ${index}`));
    database.writeDocuments([...common, document("rare", "患者 住院 罕见病 法布雷病")]);
    const search = new KnowledgeSearch(database, { fusion });
    expect(docIds(await search.search({ text: "患者 法布雷病", collections: "*", topK: 3 }))[0]).toBe("rare");
    expect(await search.search({ text: "患者 住院", collections: "*", topK: 3 })).toHaveLength(3);
    expect(await search.search({ text: "从未出现的词", collections: "*", topK: 3 })).toEqual([]);
  });

  it("finds the nearest vectors in scope (score 1 − cosine distance), and none without a vector table", async () => {
    const search = new KnowledgeSearch(database, { fusion });
    expect(search.nearest(axis(0), "*", 5)).toEqual([]);
    database.useEmbedding("fake-8", 8);
    const tilted = new Float32Array([0.6, 0.8, 0, 0, 0, 0, 0, 0]);
    database.writeDocuments([
      document("x", "one", { vectors: [axis(0)] }),
      document("y", "two", { vectors: [tilted] }),
      document("z", "three", { vectors: [axis(0)], collection: "other" }),
    ]);
    const nearest = search.nearest(axis(0), ["records"], 5);
    expect(docIds(nearest)).toEqual(["x", "y"]);
    expect(nearest[0]!.score).toBeCloseTo(1, 5);
    expect(nearest[1]!.score).toBeCloseTo(0.6, 5);
    expect(docIds(search.nearest(axis(0), "*", 1))).toHaveLength(1);
    expect(docIds(search.nearest(axis(0), ["other"], 5))).toEqual(["z"]);
  });

  it("fuses the BM25 and vector rankings by weighted reciprocal rank", async () => {
    database.useEmbedding("fake-8", 8);
    // BM25 for "肺炎 肺炎 咳嗽": a (both terms, twice) > b (one term); vectors for the query: c nearest, then b.
    database.writeDocuments([
      document("a", "肺炎 咳嗽 肺炎 咳嗽", { vectors: [axis(3)] }),
      document("b", "肺炎 发热", { vectors: [new Float32Array([0.8, 0.6, 0, 0, 0, 0, 0, 0])] }),
      document("c", "骨折 复位", { vectors: [axis(0)] }),
    ]);
    const query = "肺炎 咳嗽";
    const embedder = fakeEmbedder({ [query]: axis(0) });
    const hybrid = new KnowledgeSearch(database, { fusion, embedder });
    expect(hybrid.mode).toBe("hybrid");
    expect(docIds(hybrid.keyword(query, "*", 10))).toEqual(["a", "b"]);
    expect(docIds(hybrid.nearest(axis(0), "*", 10))).toEqual(["c", "b", "a"]);
    // a: 1/61 + 1/63 = 0.032266 (BM25 rank 1, vector rank 3); b: 1/62 + 1/62 = 0.032258 (rank 2 in both); c: 1/61.
    const fused = await hybrid.search({ text: query, collections: "*", topK: 3 });
    expect(docIds(fused)).toEqual(["a", "b", "c"]);
    expect(fused[0]!.score).toBeCloseTo(1 / 61 + 1 / 63, 12);
    expect(fused[2]!.score).toBeCloseTo(1 / 61, 12);
    // Weighting the vectors 3×: b = 4/62 = 0.0645 overtakes a = 1/61 + 3/63 = 0.0640; c = 3/61 stays last.
    const vectorHeavy = new KnowledgeSearch(database, { fusion: { ...fusion, vector_weight: 3 }, embedder });
    expect(docIds(await vectorHeavy.search({ text: query, collections: "*", topK: 3 }))).toEqual(["b", "a", "c"]);
    expect(docIds(await vectorHeavy.search({ text: query, collections: "*", topK: 1 }))).toEqual(["b"]);
    // A zero weight leaves that ranking out.
    const vectorsOnly = new KnowledgeSearch(database, { fusion: { ...fusion, bm25_weight: 0 }, embedder });
    expect(docIds(await vectorsOnly.search({ text: query, collections: "*", topK: 3 }))).toEqual(["c", "b", "a"]);
    const keywordsOnly = new KnowledgeSearch(database, { fusion: { ...fusion, vector_weight: 0 }, embedder });
    expect(docIds(await keywordsOnly.search({ text: query, collections: "*", topK: 3 }))).toEqual(["a", "b"]);
  });

  it("refuses query vectors of another model than the stored ones with a storage_error naming both", async () => {
    database.useEmbedding("model-a", 8);
    database.writeDocuments([document("a", "肺炎", { vectors: [axis(0)] })]);
    const search = new KnowledgeSearch(database, { fusion, embedder: fakeEmbedder({}, "model-b") });
    await expect(search.search({ text: "肺炎", collections: "*", topK: 3 })).rejects.toMatchObject({ code: "storage_error", message: expect.stringMatching(/model-a.*model-b/) });
  });

  it("gives up with `cancelled` when the signal is aborted", async () => {
    database.writeDocuments([document("a", "肺炎")]);
    const controller = new AbortController();
    controller.abort();
    const search = new KnowledgeSearch(database, { fusion });
    await expect(search.search({ text: "肺炎", collections: "*", topK: 3, signal: controller.signal })).rejects.toMatchObject({ code: "cancelled" });
  });

  it("turns a damaged index into a storage_error, at the search or at the next open", async () => {
    database.writeDocuments(Array.from({ length: 400 }, (_, index) => document(`d${index}`, `肺炎 病例 第${index}号 ${"咳嗽 发热 ".repeat(40)}`)));
    database.close();
    database = KnowledgeDatabase.open(database.file, { segmenter });
    const search = new KnowledgeSearch(database, { fusion });
    // The second half of the file (the FTS5 index's segments, written last) overwritten while the connection is open.
    const size = fs.statSync(database.file).size;
    const handle = fs.openSync(database.file, "r+");
    fs.writeSync(handle, Buffer.alloc(size / 2, 0x5a), 0, size / 2, size / 2);
    fs.closeSync(handle);
    await expect(search.search({ text: "肺炎 咳嗽", collections: "*", topK: 3 })).rejects.toMatchObject({ code: "storage_error", message: expect.stringMatching(/damaged/) });
    database.close();
    fs.writeFileSync(database.file, Buffer.concat([fs.readFileSync(database.file).subarray(0, 8192), Buffer.alloc(size - 8192, 0x5a)]));
    expect(() => KnowledgeDatabase.open(database.file, { segmenter })).toThrow(expect.objectContaining({ code: "storage_error", message: expect.stringContaining(database.file) }));
    database = KnowledgeDatabase.open(path.join(directory, "fresh.db"), { segmenter });
  });
});

describe("fuseRankings", () => {
  const chunk = (chunkId: number) => ({ chunkId, docId: `d${chunkId}`, collection: "c", source: "s", chunk: 0, text: "t", tokens: 1, score: 0, metadata: {} });

  it("sums weight / (k + rank) over the rankings, skipping zero weights, ties by best rank then id", () => {
    const fused = fuseRankings(
      [
        { results: [chunk(1), chunk(2)], weight: 1 },
        { results: [chunk(2), chunk(3)], weight: 2 },
        { results: [chunk(4)], weight: 0 },
      ],
      10,
      10,
    );
    expect(fused.map((entry) => entry.chunkId)).toEqual([2, 3, 1]);
    expect(fused[0]!.score).toBeCloseTo(1 / 12 + 2 / 11, 12);
    expect(fused[1]!.score).toBeCloseTo(2 / 12, 12);
    expect(fuseRankings([{ results: [chunk(5), chunk(6)], weight: 1 }, { results: [chunk(6), chunk(5)], weight: 1 }], 60, 1).map((entry) => entry.chunkId)).toEqual([5]);
  });
});
