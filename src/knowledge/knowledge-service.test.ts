// Opening a node's knowledge base: disabled, empty (BM25 only, said at start), the engine's embedder, vectors of another model refused.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { Writable } from "node:stream";
import { pino } from "pino";
import { describe, expect, it } from "vitest";
import { knowledgeSchema } from "../config/schema.js";
import { EchoEngine } from "../engine/echo/echo-engine.js";
import { silentLogger } from "../logging/logger.js";
import { ingest } from "./ingest.js";
import { KnowledgeDatabase } from "./knowledge-database.js";
import { knowledgeDatabaseFile, openKnowledge } from "./knowledge-service.js";
import type { KnowledgeEmbedder } from "./knowledge-types.js";
import { TextSegmenter } from "./text-segmenter.js";

function capturingLogger() {
  const lines: { level: number; msg: string; [key: string]: unknown }[] = [];
  const stream = new Writable({
    write(chunk, _encoding, done) {
      lines.push(JSON.parse(String(chunk)) as (typeof lines)[number]);
      done();
    },
  });
  return { logger: pino({ level: "info" }, stream), lines };
}

function directories() {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), "clawbot-knowledge-service-"));
  const dataDir = path.join(root, "data");
  fs.mkdirSync(dataDir);
  return { root, dataDir };
}

const engine = () => new EchoEngine({ parallel: 1, maxQueue: 1 });

/** Writes one document into `file`, with vectors of `embedder` when given. */
async function seed(file: string, embedder?: KnowledgeEmbedder): Promise<void> {
  const sources = fs.mkdtempSync(path.join(os.tmpdir(), "clawbot-knowledge-sources-"));
  fs.writeFileSync(path.join(sources, "note.txt"), "The zorblax protocol was followed.");
  const database = KnowledgeDatabase.open(file, { segmenter: TextSegmenter.create() });
  try {
    await ingest(database, [sources], { collection: "notes", chunk: { maxTokens: 64, overlapTokens: 8 }, ...(embedder ? { embedder } : {}) });
  } finally {
    database.close();
  }
}

describe("openKnowledge", () => {
  it("is undefined (and creates nothing) when knowledge is not enabled", async () => {
    const { dataDir } = directories();
    expect(await openKnowledge(knowledgeSchema.parse({}), { dataDir, baseDir: dataDir, engine: engine(), logger: silentLogger, threads: 1 })).toBeUndefined();
    expect(fs.existsSync(path.join(dataDir, "knowledge.db"))).toBe(false);
  });

  it("creates an empty knowledge base, says it searches BM25 only and is empty, and answers with nothing", async () => {
    const { dataDir } = directories();
    const { logger, lines } = capturingLogger();
    const service = await openKnowledge(knowledgeSchema.parse({ enabled: true }), { dataDir, baseDir: dataDir, engine: engine(), logger, threads: 1 });
    try {
      expect(service?.stage.mode).toBe("bm25");
      expect(fs.existsSync(path.join(dataDir, "knowledge.db"))).toBe(true);
      expect(lines.find((line) => line.msg.startsWith("knowledge base: BM25 only (no knowledge.embedding_model_path)"))).toMatchObject({ mode: "bm25", documents: 0 });
      expect(lines.find((line) => line.msg === "the knowledge base is empty: add documents with `clawbot kb ingest`")?.level).toBe(40);
      const result = await service?.stage.retrieve({ turn: "zorblax", choice: undefined, granted: undefined, engine: engine(), fixedMessages: [], maxTokens: 64 });
      expect(result).toEqual({ turn: "zorblax", citations: [] });
    } finally {
      await service?.close();
    }
  });

  it("resolves knowledge.database against the config's directory", async () => {
    const { root, dataDir } = directories();
    expect(knowledgeDatabaseFile({ database: "kb/cases.db" }, dataDir, root)).toBe(path.join(root, "kb", "cases.db"));
    expect(knowledgeDatabaseFile({}, dataDir, root)).toBe(path.join(dataDir, "knowledge.db"));
    await seed(path.join(root, "cases.db"));
    const { logger, lines } = capturingLogger();
    const service = await openKnowledge(knowledgeSchema.parse({ enabled: true, database: "cases.db" }), { dataDir, baseDir: root, engine: engine(), logger, threads: 1 });
    try {
      expect(lines.some((line) => line.msg.includes("is empty"))).toBe(false);
      const result = await service?.stage.retrieve({ turn: "zorblax", choice: undefined, granted: undefined, engine: engine(), fixedMessages: [], maxTokens: 64 });
      expect(result?.citations).toEqual([expect.objectContaining({ index: 1, docId: "note.txt", collection: "notes" })]);
    } finally {
      await service?.close();
    }
  });

  it("with embed_with_engine: unavailable until the engine is ready, then hybrid over the engine's vectors", async () => {
    const { dataDir } = directories();
    const echo = engine();
    const service = await openKnowledge(knowledgeSchema.parse({ enabled: true, embed_with_engine: true }), { dataDir, baseDir: dataDir, engine: echo, logger: silentLogger, threads: 1 });
    try {
      await expect(service?.stage.retrieve({ turn: "zorblax", choice: undefined, granted: undefined, engine: echo, fixedMessages: [], maxTokens: 64 })).rejects.toMatchObject({ code: "unavailable" });
      await service?.engineReady();
      expect(service?.stage.mode).toBe("hybrid");
      expect(service?.database.embedding()).toEqual({ model: "engine:echo", dimensions: echo.info.embeddingDimensions });
    } finally {
      await service?.close();
    }
  });

  it("refuses to start over vectors of another embedding model, saying how to re-embed", async () => {
    const { dataDir } = directories();
    const other: KnowledgeEmbedder = {
      id: "other-model",
      dimensions: 8,
      maxTokens: 512,
      embed: async (texts) => texts.map(() => Float32Array.from([1, 0, 0, 0, 0, 0, 0, 0])),
      countTokens: (text) => text.length,
      close: async () => undefined,
    };
    await seed(path.join(dataDir, "knowledge.db"), other);
    const service = await openKnowledge(knowledgeSchema.parse({ enabled: true, embed_with_engine: true }), { dataDir, baseDir: dataDir, engine: engine(), logger: silentLogger, threads: 1 });
    try {
      await expect(service?.engineReady()).rejects.toMatchObject({ message: expect.stringContaining("clawbot kb embed --reset") });
      expect(service?.database.embedding()?.model).toBe("other-model");
    } finally {
      await service?.close();
    }
  });
});

