// `clawbot kb` through the real CLI: ingest txt/md/jsonl/csv (Chinese and English), search, re-ingest, delete, failures, a crash, embeddings.
import fs from "node:fs";
import path from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { killAll, removeTempDirs, runCli, sandboxEnv, spawnCli, tempDir } from "./helpers/cli-process.js";
import { testModelPath } from "./helpers/test-model.js";
import { startTestNode } from "./helpers/test-node.js";
import { KnowledgeSearch } from "../src/knowledge/knowledge-search.js";

const corpus = path.resolve("test/fixtures/knowledge/corpus");

interface Workspace {
  root: string;
  /** A copy of the fixture corpus that the test may edit. */
  corpus: string;
  env: NodeJS.ProcessEnv;
}

function workspace(): Workspace {
  const root = tempDir("clawbot-kb-");
  const copy = path.join(root, "corpus");
  fs.cpSync(corpus, copy, { recursive: true });
  return { root, corpus: copy, env: sandboxEnv(root) };
}

async function kb(space: Workspace, args: string[], timeoutMs = 60_000) {
  return runCli(["kb", ...args], { cwd: space.root, env: space.env, timeoutMs });
}

async function kbJson<Result>(space: Workspace, args: string[], timeoutMs?: number): Promise<Result> {
  const result = await kb(space, [...args, "--json"], timeoutMs);
  if (result.code !== 0) throw new Error(`clawbot kb ${args.join(" ")} exited ${result.code}\n${result.stdout}\n${result.stderr}`);
  return JSON.parse(result.stdout) as Result;
}

interface Report {
  files: { ingested: number; unchanged: number; failed: { file: string; error: string }[]; skipped: number };
  documents: { added: number; updated: number; unchanged: number; deleted: number };
  chunks: number;
  vectors: number;
}
interface SearchOutput {
  mode: string;
  results: { rank: number; doc_id: string; collection: string; source: string; text: string; metadata: Record<string, string> }[];
}
interface Stats {
  collections: { name: string; documents: number; chunks: number; vectors: number }[];
  documents: number;
  chunks: number;
  vectors: number;
  embedding: { model: string; dimensions: number } | null;
}

const search = (space: Workspace, query: string, extra: string[] = []) => kbJson<SearchOutput>(space, ["search", query, ...extra]);
const topDocument = async (space: Workspace, query: string, extra: string[] = []) => (await search(space, query, extra)).results[0]?.doc_id;

afterEach(killAll);
afterAll(removeTempDirs);

describe("clawbot kb with BM25 search", () => {
  let space: Workspace;
  let first: Report;

  beforeAll(async () => {
    space = workspace();
    first = await kbJson<Report>(space, ["ingest", space.corpus, "--meta-fields", "department"]);
  }, 120_000);

  it("ingests txt, md, jsonl and csv (hidden files and unknown extensions skipped)", () => {
    expect(first.files).toEqual({ ingested: 4, unchanged: 0, failed: [], skipped: 1, skippedFiles: [path.join(space.corpus, "notes", "diagram.png")] });
    // 1 md + 1 txt + 6 jsonl records + 4 csv rows.
    expect(first.documents).toEqual({ added: 12, updated: 0, unchanged: 0, deleted: 0 });
    expect(first.chunks).toBeGreaterThanOrEqual(12);
    expect(first.vectors).toBe(0);
  });

  it("finds the one record with a diagnosis term at rank 1, in Chinese and English, from every format", async () => {
    const sarcoidosis = await search(space, "sarcoidosis");
    expect(sarcoidosis.mode).toBe("bm25");
    expect(sarcoidosis.results[0]).toMatchObject({ rank: 1, doc_id: "MR-0004", collection: "default", metadata: { department: "Pulmonology" } });
    expect(sarcoidosis.results[0]?.source).toBe(`${path.join(space.corpus, "records", "medical.jsonl")}:4`);
    expect(await topDocument(space, "桥本甲状腺炎")).toBe("MR-0006");
    expect(await topDocument(space, "偏头痛 畏光")).toBe("MR-0003");
    expect(await topDocument(space, "国密 审计账本")).toBe("notes/智能体说明.txt");
    expect(await topDocument(space, "rotate the signing key")).toBe("notes/gateway-guide.md");
    expect(await topDocument(space, "凝血功能")).toBe("S-04");
  });

  it("prints ranked results as text, and refuses an unknown collection", async () => {
    const text = await kb(space, ["search", "sarcoidosis", "-k", "3"]);
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(/^1 result \(bm25\):\n1\. score \d+\.\d{4} {2}\[default\] MR-0004 {2}\S+medical\.jsonl:4#0 {2}department=Pulmonology\n {3}department: Pulmonology diagnosis: Sarcoidosis/);
    const unknown = await kb(space, ["search", "sarcoidosis", "--collection", "nope"]);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain('clawbot kb search: no collection "nope"');
  });

  it("re-ingests only the edited file, and within it only the changed records", async () => {
    const file = path.join(space.corpus, "records", "medical.jsonl");
    const lines = fs.readFileSync(file, "utf8").trimEnd().split("\n");
    lines[1] = JSON.stringify({ id: "MR-0002", department: "心内科", diagnosis: "肥厚型心肌病", notes: "超声心动图提示室间隔增厚。" });
    lines.splice(4, 1); // MR-0005 removed
    lines.push(JSON.stringify({ id: "MR-0007", department: "Dermatology", diagnosis: "Pemphigus vulgaris", notes: "Flaccid blisters." }));
    fs.writeFileSync(file, `${lines.join("\n")}\n`);
    const again = await kbJson<Report>(space, ["ingest", space.corpus, "--meta-fields", "department"]);
    expect(again.files).toMatchObject({ ingested: 1, unchanged: 3, failed: [] });
    expect(again.documents).toEqual({ added: 1, updated: 1, unchanged: 4, deleted: 1 });
    expect(await topDocument(space, "肥厚型心肌病")).toBe("MR-0002");
    expect(await topDocument(space, "pemphigus")).toBe("MR-0007");
    expect((await search(space, "atrial fibrillation metoprolol")).results.map((result) => result.doc_id)).not.toContain("MR-0005");
    const unchanged = await kbJson<Report>(space, ["ingest", space.corpus, "--meta-fields", "department"]);
    expect(unchanged.files).toMatchObject({ ingested: 0, unchanged: 4 });
    expect(unchanged.chunks).toBe(0);
  });

  it("deletes the documents of files that are gone with --delete-missing", async () => {
    fs.rmSync(path.join(space.corpus, "notes", "gateway-guide.md"));
    const before = await kbJson<Stats>(space, ["stats"]);
    const report = await kbJson<Report>(space, ["ingest", space.corpus, "--delete-missing"]);
    expect(report.documents.deleted).toBe(1);
    expect(await topDocument(space, "rotate the signing key")).toBeUndefined();
    const after = await kbJson<Stats>(space, ["stats"]);
    expect(after.documents).toBe(before.documents - 1);
  });

  it("deletes one document with --doc and a whole collection with --collection", async () => {
    await kbJson<Report>(space, ["ingest", path.join(space.corpus, "records", "staff.csv"), "--collection", "staff"]);
    expect((await kbJson<Stats>(space, ["stats"])).collections.map((row) => row.name)).toEqual(["default", "staff"]);
    // S-04 is in both collections: --collection picks one.
    const one = await kbJson<{ deleted: { documents: number } }>(space, ["delete", "--doc", "S-04", "--collection", "staff"]);
    expect(one.deleted.documents).toBe(1);
    const matches = (await search(space, "凝血功能")).results.filter((result) => result.doc_id === "S-04");
    expect(matches.map((result) => result.collection)).toEqual(["default"]);
    const whole = await kbJson<{ deleted: { documents: number } }>(space, ["delete", "--collection", "staff"]);
    expect(whole.deleted.documents).toBe(3);
    expect((await kbJson<Stats>(space, ["stats"])).collections.map((row) => row.name)).toEqual(["default"]);
    const gone = await kb(space, ["delete", "--doc", "no-such-doc"]);
    expect([gone.code, gone.stderr]).toEqual([1, 'clawbot kb delete: no document "no-such-doc"\n']);
    const unknown = await kb(space, ["delete", "--collection", "staff"]);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toMatch(/^clawbot kb delete: no collection "staff" in .*knowledge\.db \(collections: default\)\n$/);
  });
});

describe("clawbot kb failures", () => {
  it("reports a corrupt file by name, ingests the rest and exits 1; the failed file is read again next time", async () => {
    const space = workspace();
    const directory = path.join(space.root, "mixed");
    fs.mkdirSync(directory);
    fs.writeFileSync(path.join(directory, "good.jsonl"), '{"id":"g1","text":"glomerulonephritis biopsy"}\n{"id":"g2","text":"ordinary note"}\n');
    fs.writeFileSync(path.join(directory, "bad.jsonl"), '{"id":"b1","text":"fine"}\n{"id":"b2", "text": broken\n');
    fs.writeFileSync(path.join(directory, "binary.txt"), Buffer.from([0x68, 0x69, 0x0a, 0xff, 0xfe, 0x0a]));
    const result = await kb(space, ["ingest", directory]);
    expect(result.code, result.stderr).toBe(1);
    expect(result.stdout).toContain("1 ingested, 0 unchanged, 2 failed");
    expect(result.stdout).toContain(`${path.join(directory, "bad.jsonl")}:2: not valid JSON`);
    expect(result.stdout).toContain(`${path.join(directory, "binary.txt")}:2: invalid UTF-8`);
    expect(await topDocument(space, "glomerulonephritis")).toBe("g1");
    const again = await kb(space, ["ingest", directory, "--json"]);
    expect(again.code).toBe(1);
    expect((JSON.parse(again.stdout) as Report).files).toMatchObject({ ingested: 0, unchanged: 1 });
    expect((JSON.parse(again.stdout) as Report).files.failed.map((failure) => path.basename(failure.file))).toEqual(["bad.jsonl", "binary.txt"]);
  });

  it("names a missing path, and a knowledge base that does not exist yet", async () => {
    const space = workspace();
    const missing = await kb(space, ["ingest", path.join(space.root, "nowhere")]);
    expect([missing.code, missing.stderr]).toEqual([1, `clawbot kb ingest: ${path.join(space.root, "nowhere")}: no such file or directory\n`]);
    for (const args of [["search", "anything"], ["stats"]]) {
      const result = await kb(space, args);
      expect(result.code).toBe(1);
      expect(result.stderr).toMatch(/there is no knowledge base at .*knowledge\.db: create it with `clawbot kb ingest/);
    }
  });

  it("after SIGKILL mid-ingest, a re-run ends with the same counts as a clean run", async () => {
    const space = workspace();
    const file = path.join(space.root, "records.jsonl");
    const out = fs.openSync(file, "w");
    const departments = ["呼吸内科", "心内科", "Neurology", "消化内科"];
    for (let index = 0; index < 20_000; index += 1) {
      const record = {
        id: `R-${index}`,
        department: departments[index % departments.length],
        diagnosis: index === 19_999 ? "淋巴管肌瘤病" : `诊断${index % 50}`,
        notes: `患者${index}号，发热咳嗽三天。查体体温38度。Patient ${index} reports fever and cough; chest film shows patchy opacity.`,
      };
      fs.writeSync(out, `${JSON.stringify(record)}\n`);
    }
    fs.closeSync(out);
    const clean = { ...space, env: sandboxEnv(path.join(space.root, "clean")) };
    await kbJson<Report>(clean, ["ingest", file], 180_000);
    const expected = await kbJson<Stats>(clean, ["stats"]);
    expect(expected.documents).toBe(20_000);

    const crashing = spawnCli(["kb", "ingest", file], { cwd: space.root, env: space.env });
    await crashing.waitFor(/^kb ingest: \d+ documents/m, { stream: "stderr", timeoutMs: 120_000 });
    crashing.child.kill("SIGKILL");
    expect((await crashing.exited).signal).toBe("SIGKILL");
    const partial = await kbJson<Stats>(space, ["stats"]);
    expect(partial.documents).toBeGreaterThan(0);
    expect(partial.documents).toBeLessThan(20_000);

    const resumed = await kbJson<Report>(space, ["ingest", file], 180_000);
    expect(resumed.documents.unchanged).toBe(partial.documents);
    expect(resumed.documents.added).toBe(20_000 - partial.documents);
    const final = await kbJson<Stats>(space, ["stats"]);
    expect({ documents: final.documents, chunks: final.chunks }).toEqual({ documents: expected.documents, chunks: expected.chunks });
    expect(await topDocument(space, "淋巴管肌瘤病")).toBe("R-19999");
  }, 400_000);
});

describe("clawbot kb beside a running node", () => {
  it("ingests into the knowledge base a node has open, and the node's connection sees the new documents", async () => {
    const space = workspace();
    const node = await startTestNode({ agent: { engine: "echo" }, knowledge: { enabled: true } });
    try {
      const database = node.daemon.knowledge?.database;
      expect(database?.file).toBe(path.join(node.dataDir, "knowledge.db"));
      const nodeSearch = new KnowledgeSearch(database!, { fusion: { bm25_weight: 1, vector_weight: 1, rrf_k: 60 } });
      expect(await nodeSearch.search({ text: "sarcoidosis", collections: "*", topK: 3 })).toEqual([]);
      const report = await kbJson<Report>({ ...space }, ["ingest", space.corpus, "--data-dir", node.dataDir]);
      expect(report.documents.added).toBe(12);
      const found = await nodeSearch.search({ text: "sarcoidosis", collections: "*", topK: 3 });
      expect(found.map((chunk) => chunk.docId)).toEqual(["MR-0004"]);
    } finally {
      await node.close();
    }
  }, 120_000);
});

describe("clawbot kb with an embedding model", () => {
  it("writes a vector per chunk, keeps them across runs, reports the model, and searches hybrid", async () => {
    const space = workspace();
    fs.writeFileSync(path.join(space.root, "clawbot.yaml"), `knowledge:\n  embedding_model_path: ${JSON.stringify(await testModelPath())}\n`);
    const report = await kbJson<Report>(space, ["ingest", space.corpus], 120_000);
    expect(report.files.ingested).toBe(4);
    expect(report.vectors).toBe(report.chunks);
    const stats = await kbJson<Stats>(space, ["stats"]);
    expect(stats.embedding).toEqual({ model: "stories260K", dimensions: 64 });
    expect(stats.vectors).toBe(stats.chunks);
    expect(stats.chunks).toBe(report.chunks);

    fs.appendFileSync(path.join(space.corpus, "records", "medical.jsonl"), `${JSON.stringify({ id: "MR-0100", text: "Kawasaki disease in a child." })}\n`);
    const again = await kbJson<Report>(space, ["ingest", space.corpus], 120_000);
    expect(again.documents).toMatchObject({ added: 1, unchanged: 6 });
    expect(again.vectors).toBe(again.chunks);
    const after = await kbJson<Stats>(space, ["stats"]);
    expect(after.vectors).toBe(after.chunks);
    expect(after.chunks).toBe(stats.chunks + again.chunks);

    const found = await search(space, "sarcoidosis");
    expect(found.mode).toBe("hybrid");
    expect(found.results[0]?.doc_id).toBe("MR-0004");

    const reset = await kbJson<{ vectors: number; model: string }>(space, ["embed", "--reset"], 120_000);
    expect(reset).toMatchObject({ vectors: after.chunks, model: "stories260K" });
    expect((await kbJson<Stats>(space, ["stats"])).vectors).toBe(after.chunks);
  }, 400_000);
});
