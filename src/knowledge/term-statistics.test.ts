import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { KnowledgeDatabase } from "./knowledge-database.js";
import { TermStatistics } from "./term-statistics.js";
import { TextSegmenter } from "./text-segmenter.js";

describe("TermStatistics: which query terms BM25 ranks", () => {
  let directory: string;
  let database: KnowledgeDatabase;

  beforeAll(() => {
    directory = fs.mkdtempSync(path.join(os.tmpdir(), "clawbot-kb-terms-"));
    database = KnowledgeDatabase.open(path.join(directory, "knowledge.db"), { segmenter: TextSegmenter.create() });
    // "patient" in all 20 chunks, "fever" in 6, "zorblax" in one.
    const documents = Array.from({ length: 20 }, (_, index) => {
      const text = `patient ${index < 6 ? "fever" : "cough"} ${index === 3 ? "zorblax" : ""}`;
      return { collection: "cases", docId: `d${index}`, source: `d${index}`, file: "/cases.jsonl", hash: `h${index}`, metadata: {}, chunks: [{ text, tokens: 3 }] };
    });
    database.writeDocuments(documents);
  });
  afterAll(() => {
    database.close();
    fs.rmSync(directory, { recursive: true, force: true });
  });

  it("ranks every matching term, rarest first, while their postings fit, and drops terms that match nothing", () => {
    expect(new TermStatistics(database.sqlite).plan(["patient", "fever", "nowhere"])).toEqual({ expression: '"fever" OR "patient"', ranked: true });
  });

  it("over the budget: drops terms in half the chunks or more, keeps the rarest that fit (always one)", () => {
    const small = new TermStatistics(database.sqlite, 10);
    expect(small.plan(["patient", "fever", "zorblax"])).toEqual({ expression: '"zorblax" OR "fever"', ranked: true });
    expect(new TermStatistics(database.sqlite, 3).plan(["patient", "fever", "zorblax"])).toEqual({ expression: '"zorblax"', ranked: true });
  });

  it("when every matching term is that common, searches the rarest one unranked", () => {
    expect(new TermStatistics(database.sqlite, 10).plan(["patient"])).toEqual({ expression: '"patient"', ranked: false });
  });

  it("has no plan for no terms, or terms that match nothing", () => {
    const statistics = new TermStatistics(database.sqlite);
    expect(statistics.plan([])).toBeUndefined();
    expect(statistics.plan(["nowhere"])).toBeUndefined();
  });
});
