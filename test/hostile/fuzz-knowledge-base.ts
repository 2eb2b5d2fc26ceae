// A small knowledge base for the hostile nodes, whose documents match nearly any generated text (every letter and digit as a word).
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { ingest } from "../../src/knowledge/ingest.js";
import { KnowledgeDatabase } from "../../src/knowledge/knowledge-database.js";
import { TextSegmenter } from "../../src/knowledge/text-segmenter.js";

let built: Promise<string> | undefined;

/** The knowledge.db file (built once per test file): collections `cases` and `guidelines`, so named scopes find something. */
export function fuzzKnowledgeBase(): Promise<string> {
  built ??= build();
  return built;
}

async function build(): Promise<string> {
  const directory = fs.mkdtempSync(path.join(os.tmpdir(), "clawbot-fuzz-kb-"));
  const words = [..."abcdefghijklmnopqrstuvwxyz0123456789"].join(" ");
  const records = [
    { id: "fuzz-1", text: `${words} 病历 患者 诊断` },
    { id: "fuzz-2", text: `The quick brown fox: ${words}` },
  ];
  fs.writeFileSync(path.join(directory, "cases.jsonl"), records.map((record) => JSON.stringify(record)).join("\n") + "\n");
  fs.writeFileSync(path.join(directory, "guidelines.md"), `# Guidelines\n\n${words} 国密 智能体\n`);
  const file = path.join(directory, "knowledge.db");
  const database = KnowledgeDatabase.open(file, { segmenter: TextSegmenter.create() });
  try {
    const chunk = { maxTokens: 64, overlapTokens: 8 };
    await ingest(database, [path.join(directory, "cases.jsonl")], { collection: "cases", chunk });
    await ingest(database, [path.join(directory, "guidelines.md")], { collection: "guidelines", chunk });
  } finally {
    database.close();
  }
  return file;
}
