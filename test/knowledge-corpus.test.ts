// The benchmark's synthetic corpus: the same seed gives the same file, and each marker term is in exactly one record.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { corpusQueries, markerFor, writeCorpus, type CorpusRecord } from "../bench/knowledge-corpus.js";

const scratch = fs.mkdtempSync(path.join(os.tmpdir(), "clawbot-knowledge-corpus-"));
afterAll(() => fs.rmSync(scratch, { recursive: true, force: true }));

function readRecords(file: string): CorpusRecord[] {
  return fs
    .readFileSync(file, "utf8")
    .trimEnd()
    .split("\n")
    .map((line) => JSON.parse(line) as CorpusRecord);
}

describe("knowledge corpus", () => {
  it("writes the same records for the same seed and different ones for another seed", async () => {
    const first = await writeCorpus(path.join(scratch, "a.jsonl"), { records: 2000, seed: 7 });
    const again = await writeCorpus(path.join(scratch, "b.jsonl"), { records: 2000, seed: 7 });
    const other = await writeCorpus(path.join(scratch, "c.jsonl"), { records: 2000, seed: 8 });
    expect(fs.readFileSync(again.file, "utf8")).toBe(fs.readFileSync(first.file, "utf8"));
    expect(again.markers).toEqual(first.markers);
    expect(fs.readFileSync(other.file, "utf8")).not.toBe(fs.readFileSync(first.file, "utf8"));
    expect(corpusQueries(first.markers, 60, 7)).toEqual(corpusQueries(again.markers, 60, 7));
  });

  it("writes records with the four fields, mostly Chinese, with an English share", async () => {
    const summary = await writeCorpus(path.join(scratch, "shape.jsonl"), { records: 3000, seed: 12 });
    const records = readRecords(summary.file);
    expect(records).toHaveLength(3000);
    expect(summary.records).toBe(3000);
    expect(new Set(records.map((record) => record.id)).size).toBe(3000);
    for (const record of records) {
      expect(Object.keys(record).sort()).toEqual(["department", "diagnosis", "id", "notes"]);
      expect(record.notes.length).toBeGreaterThan(100);
    }
    const english = records.filter((record) => /^[\x20-\x7e]*$/.test(record.notes)).length;
    expect(english).toBe(summary.english);
    expect(english / records.length).toBeGreaterThan(0.15);
    expect(english / records.length).toBeLessThan(0.25);
    expect(records.some((record) => record.notes.includes("主诉") && record.notes.includes("用药"))).toBe(true);
  });

  it("puts each marker term in exactly one record, the one it names", async () => {
    const summary = await writeCorpus(path.join(scratch, "markers.jsonl"), { records: 5000, seed: 3, markerShare: 0.05 });
    expect(summary.markers.length).toBeGreaterThan(150);
    const records = readRecords(summary.file);
    const byId = new Map(records.map((record) => [record.id, record]));
    const whole = fs.readFileSync(summary.file, "utf8");
    for (const marker of summary.markers) {
      expect(whole.split(marker.marker).length - 1).toBe(1);
      expect(byId.get(marker.id)?.notes).toContain(marker.marker);
    }
    // Records without a marker carry none: the marker's prefix appears only in the marker records.
    expect(records.filter((record) => record.notes.includes("ZQ")).length).toBe(summary.markers.length);
  });

  it("never gives two records the same marker", () => {
    const markers = new Set(Array.from({ length: 200_000 }, (_, index) => markerFor(index)));
    expect(markers.size).toBe(200_000);
  });

  it("mixes marker queries (with the record expected first) and topic queries in both languages", async () => {
    const summary = await writeCorpus(path.join(scratch, "queries.jsonl"), { records: 3000, seed: 5, markerShare: 0.05 });
    const queries = corpusQueries(summary.markers, 240, 5);
    expect(queries).toHaveLength(240);
    const expected = queries.filter((query) => query.expectedId !== undefined);
    expect(expected).toHaveLength(80);
    for (const query of expected) {
      const marker = summary.markers.find((candidate) => candidate.id === query.expectedId);
      expect(query.text).toContain(marker?.marker);
    }
    expect(queries.some((query) => query.language === "en" && query.expectedId === undefined)).toBe(true);
    expect(queries.some((query) => query.language === "zh" && query.expectedId === undefined)).toBe(true);
  });
});
