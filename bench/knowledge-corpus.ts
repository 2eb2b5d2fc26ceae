// A seeded synthetic corpus of medical records (jsonl: id, department, diagnosis, notes; ~80 % Chinese), and queries over it.
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import * as words from "./knowledge-vocabulary.js";
import type { DepartmentWords } from "./knowledge-vocabulary.js";
import { seededRandom } from "../test/helpers/seeded-random.js";

export interface CorpusRecord {
  id: string;
  department: string;
  diagnosis: string;
  notes: string;
}

export interface CorpusOptions {
  records: number;
  seed: number;
  /** Share of records written in English (default 0.2). */
  englishShare?: number;
  /** Share of records that carry a marker term found in no other record (default 0.01). */
  markerShare?: number;
}

/** A record whose notes name a made-up investigational drug code that appears in no other record. */
export interface MarkerRecord {
  id: string;
  marker: string;
  language: "zh" | "en";
}

export interface CorpusSummary {
  file: string;
  records: number;
  english: number;
  bytes: number;
  /** Characters of the notes: shortest, mean, longest. */
  notesLength: { min: number; mean: number; max: number };
  markers: MarkerRecord[];
}

/** A query for the benchmark; marker queries know the one record that should come first. */
export interface CorpusQuery {
  text: string;
  language: "zh" | "en";
  expectedId?: string;
}

export { seededRandom };

const markerLetters = "ABCDEFGHJKLMNPQRSTUVWXYZ";
const markerSpace = markerLetters.length ** 6;

/** The marker of record `index`: "ZQ" and six letters, a bijection of the index (so no two records share one). */
export function markerFor(index: number): string {
  // 7919 is coprime with 24^6, so index ↦ index·7919 mod 24^6 is one-to-one.
  let value = Number((BigInt(index) * 7919n + 104729n) % BigInt(markerSpace));
  let letters = "";
  for (let position = 0; position < 6; position += 1) {
    letters = (markerLetters[value % markerLetters.length] as string) + letters;
    value = Math.floor(value / markerLetters.length);
  }
  return `ZQ${letters}`;
}

export function recordId(index: number): string {
  return `MR${String(index + 1).padStart(7, "0")}`;
}

/** The records in order, one at a time (never all in memory). */
export function* corpusRecords(options: CorpusOptions): Generator<{ record: CorpusRecord; marker?: MarkerRecord }> {
  const random = seededRandom(options.seed);
  const englishShare = options.englishShare ?? 0.2;
  const markerShare = options.markerShare ?? 0.01;
  const pick = <Item>(items: readonly Item[]): Item => items[Math.floor(random() * items.length)] as Item;
  for (let index = 0; index < options.records; index += 1) {
    const english = random() < englishShare;
    const markerCode = random() < markerShare ? markerFor(index) : undefined;
    const department = pick(english ? words.englishDepartments : words.chineseDepartments);
    const diagnosis = pick(department.diagnoses);
    const id = recordId(index);
    const notes = english ? englishNotes(department, diagnosis, pick, random, markerCode) : chineseNotes(department, diagnosis, pick, random, markerCode);
    const record = { id, department: department.department, diagnosis: diagnosis.diagnosis, notes };
    yield markerCode ? { record, marker: { id, marker: markerCode, language: english ? "en" : "zh" } } : { record };
  }
}

type Pick = <Item>(items: readonly Item[]) => Item;

function chineseNotes(department: DepartmentWords, diagnosis: words.DiagnosisWords, pick: Pick, random: () => number, marker?: string): string {
  const [first, second, third] = distinct(diagnosis.symptoms, 3, random);
  // Children in 儿科, women in 妇产科, adults elsewhere.
  const child = department.department === "儿科";
  const age = child ? 1 + Math.floor(random() * 13) : 18 + Math.floor(random() * 70);
  const sex = department.department === "妇产科" || random() < 0.5 ? "女" : "男";
  const drugs = distinct(diagnosis.drugs, 1 + Math.floor(random() * 2), random);
  const tests = distinct(diagnosis.tests, Math.min(2, diagnosis.tests.length), random);
  const medication = drugs.map((drug) => `${drug}${dose(random)}mg ${pick(words.chineseFrequencies)}`);
  if (marker) medication.push(`加用试验药物${marker} ${dose(random)}mg ${pick(words.chineseFrequencies)}`);
  const parts = [
    `主诉：${first}${second ? `伴${second}` : ""}${pick(words.chineseDurations)}。`,
    `现病史：${child ? "患儿" : "患者"}${sex}，${age}岁，${pick(words.chineseOnsets)}${first}，${third ? `伴${third}，` : ""}` +
      `${random() < 0.5 ? "未予重视" : "自行服药后症状未见缓解"}，今为进一步诊治来我院${department.department}就诊。`,
    `既往史：${distinct(words.chineseHistories, 2, random).join("，")}。`,
    `用药：${medication.join("；")}。`,
    `检查：${tests.map((test) => `${test}${pick(words.chineseResults)}`).join("，")}。`,
    `诊断：${diagnosis.diagnosis}。`,
    `医嘱：${distinct(words.chineseAdvice, 1 + Math.floor(random() * 2), random).join("")}`,
  ];
  if (random() < 0.5) parts.push(`第${pick(words.chineseNumbers)}次住院，病情${random() < 0.5 ? "稳定" : "较前好转"}，${pick(words.chineseAdvice)}`);
  return parts.join("");
}

function englishNotes(department: DepartmentWords, diagnosis: words.DiagnosisWords, pick: Pick, random: () => number, marker?: string): string {
  const [first, second] = distinct(diagnosis.symptoms, 2, random);
  const age = 18 + Math.floor(random() * 70);
  const medication = distinct(diagnosis.drugs, 1 + Math.floor(random() * 2), random).map((drug) => `${drug} ${dose(random)} mg ${pick(words.englishFrequencies)}`);
  if (marker) medication.push(`investigational drug ${marker} ${dose(random)} mg ${pick(words.englishFrequencies)}`);
  return [
    `Chief complaint: ${first} for ${pick(words.englishDurations)}.`,
    `History: ${age}-year-old ${random() < 0.5 ? "man" : "woman"} seen in ${department.department} with ${first}${second ? ` and ${second}` : ""}.`,
    `Past history: ${distinct(words.englishHistories, 2, random).join("; ")}.`,
    `Medications: ${medication.join("; ")}.`,
    `Examination: ${pick(diagnosis.tests)} ${pick(words.englishResults)}.`,
    `Assessment: ${diagnosis.diagnosis}. Plan: ${pick(words.englishAdvice)}`,
  ].join(" ");
}

function dose(random: () => number): number {
  return [5, 10, 20, 25, 40, 50, 100, 250, 500][Math.floor(random() * 9)] as number;
}

/** Up to `count` different items, in random order. */
function distinct<Item>(items: readonly Item[], count: number, random: () => number): Item[] {
  const pool = [...items];
  const chosen: Item[] = [];
  while (chosen.length < count && pool.length > 0) chosen.push(pool.splice(Math.floor(random() * pool.length), 1)[0] as Item);
  return chosen;
}

/** Writes the corpus as jsonl, streamed in batches with backpressure; returns its sizes and the marker records. */
export async function writeCorpus(file: string, options: CorpusOptions): Promise<CorpusSummary> {
  const stream = fs.createWriteStream(file, { encoding: "utf8" });
  const markers: MarkerRecord[] = [];
  let records = 0;
  let english = 0;
  let lengthTotal = 0;
  let lengthMin = Number.POSITIVE_INFINITY;
  let lengthMax = 0;
  let batch: string[] = [];
  const flush = async () => {
    if (batch.length === 0) return;
    const text = batch.join("");
    batch = [];
    if (!stream.write(text)) await new Promise<void>((resolve) => stream.once("drain", resolve));
  };
  try {
    for (const { record, marker } of corpusRecords(options)) {
      records += 1;
      if (/^[\x20-\x7e]*$/.test(record.notes)) english += 1;
      lengthTotal += record.notes.length;
      lengthMin = Math.min(lengthMin, record.notes.length);
      lengthMax = Math.max(lengthMax, record.notes.length);
      if (marker) markers.push(marker);
      batch.push(`${JSON.stringify(record)}\n`);
      if (batch.length >= 1000) await flush();
    }
    await flush();
  } finally {
    await new Promise<void>((resolve, reject) => stream.end((error?: Error | null) => (error ? reject(error) : resolve())));
  }
  return {
    file,
    records,
    english,
    bytes: fs.statSync(file).size,
    notesLength: { min: records > 0 ? lengthMin : 0, mean: records > 0 ? lengthTotal / records : 0, max: lengthMax },
    markers,
  };
}

/**
 * `count` queries, seeded: a third (at most) ask for a marker (its record should rank first), the rest are topic
 * queries composed from the vocabulary; ~80 % Chinese.
 */
export function corpusQueries(markers: readonly MarkerRecord[], count: number, seed: number): CorpusQuery[] {
  const random = seededRandom(seed ^ 0x5bd1e995);
  const pick = <Item>(items: readonly Item[]): Item => items[Math.floor(random() * items.length)] as Item;
  const markerQueries = distinct(markers, Math.min(markers.length, Math.floor(count / 3)), random).map(
    (marker): CorpusQuery => ({
      text: marker.language === "zh" ? `哪位患者用了试验药物${marker.marker}？` : `Which patient received ${marker.marker}?`,
      language: marker.language,
      expectedId: marker.id,
    }),
  );
  const queries = [...markerQueries];
  while (queries.length < count) {
    if (random() < 0.8) {
      const diagnosis = pick(pick(words.chineseDepartments).diagnoses);
      const templates = [
        () => `${diagnosis.diagnosis}患者使用${pick(diagnosis.drugs)}的效果`,
        () => `${pick(diagnosis.symptoms)}伴${pick(diagnosis.symptoms)}怎么办`,
        () => `${pick(diagnosis.tests)}${pick(words.chineseResults)}的${diagnosis.diagnosis}病例`,
      ];
      queries.push({ text: pick(templates)(), language: "zh" });
    } else {
      const diagnosis = pick(pick(words.englishDepartments).diagnoses);
      const templates = [
        () => `${diagnosis.diagnosis} treated with ${pick(diagnosis.drugs)}`,
        () => `patient with ${pick(diagnosis.symptoms)} and ${pick(diagnosis.symptoms)}`,
        () => `${pick(diagnosis.tests)} ${pick(words.englishResults)}`,
      ];
      queries.push({ text: pick(templates)(), language: "en" });
    }
  }
  // Interleave marker and topic queries so neither kind runs only on a cold or only on a warm cache.
  return distinct(queries, queries.length, random);
}

// `node --import tsx bench/knowledge-corpus.ts FILE [RECORDS] [SEED]`: writes a corpus for trying `clawbot kb ingest` by hand.
if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const [file, records = "100000", seed = "12"] = process.argv.slice(2);
  if (!file) {
    process.stderr.write("usage: node --import tsx bench/knowledge-corpus.ts FILE [RECORDS] [SEED]\n");
    process.exitCode = 1;
  } else {
    const summary = await writeCorpus(path.resolve(file), { records: Number(records), seed: Number(seed) });
    process.stdout.write(`${summary.records} records (${summary.english} English, ${summary.markers.length} with a marker), ${summary.bytes} bytes: ${summary.file}\n`);
  }
}
