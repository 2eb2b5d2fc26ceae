// The document readers: each format (Chinese and English fixtures), records without a text field, and files that fail by name and line.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import fc from "fast-check";
import { afterAll, describe, expect, it } from "vitest";
import { DocumentError, readDocuments, type DocumentFile, type DocumentFormat } from "./document-readers.js";
import type { SourceDocument } from "./knowledge-types.js";
import { defaultRecordFields, type RecordFields } from "./record-document.js";

const corpus = path.resolve("test/fixtures/knowledge/corpus");
const scratch = fs.mkdtempSync(path.join(os.tmpdir(), "clawbot-readers-"));
afterAll(() => fs.rmSync(scratch, { recursive: true, force: true }));

function fileOf(absolute: string, format: DocumentFormat, relative = path.basename(absolute)): DocumentFile {
  return { path: absolute, source: absolute, relative, format, size: fs.statSync(absolute).size };
}

async function readAll(file: DocumentFile, fields: RecordFields = defaultRecordFields): Promise<{ documents: SourceDocument[]; bytes: number }> {
  const documents: SourceDocument[] = [];
  let bytes = 0;
  for await (const document of readDocuments(file, { fields, onData: (chunk) => (bytes += chunk.length) })) documents.push(document);
  return { documents, bytes };
}

function scratchFile(name: string, content: string | Buffer): string {
  const file = path.join(scratch, name);
  fs.writeFileSync(file, content);
  return file;
}

describe("readDocuments", () => {
  it("reads a Chinese text file as one document whose id is its relative path", async () => {
    const file = path.join(corpus, "notes", "智能体说明.txt");
    const { documents, bytes } = await readAll(fileOf(file, "txt", "notes/智能体说明.txt"));
    expect(bytes).toBe(fs.statSync(file).size);
    expect(documents).toHaveLength(1);
    expect(documents[0]).toMatchObject({ docId: "notes/智能体说明.txt", source: file, metadata: {} });
    expect(documents[0]?.text).toBe(fs.readFileSync(file, "utf8"));
  });

  it("reads each jsonl line as a document; without a text field every other field becomes a `name: value` line", async () => {
    const file = path.join(corpus, "records", "medical.jsonl");
    const { documents } = await readAll(fileOf(file, "jsonl"), { idField: "id", textField: "text", metaFields: ["department"] });
    expect(documents.map((document) => document.docId)).toEqual(["MR-0001", "MR-0002", "MR-0003", "MR-0004", "MR-0005", "MR-0006"]);
    expect(documents[3]).toEqual({
      docId: "MR-0004",
      source: `${file}:4`,
      text:
        "department: Pulmonology\ndiagnosis: Sarcoidosis\nnotes: Bilateral hilar lymphadenopathy on the chest film. " +
        "Biopsy showed non-caseating granulomas. Started on prednisone.",
      metadata: { department: "Pulmonology" },
    });
    expect(documents[0]?.text).toContain("diagnosis: 社区获得性肺炎");
  });

  it("uses --text-field and --id-field, and `<file>:<line>` when a record has no id; skips blank lines", async () => {
    const file = scratchFile("custom.ndjson", '{"key":"a","body":"first body","x":1}\n\n{"body":"second body","tags":["t1","t2"]}\r\n{"key":7,"body":"third"}');
    const { documents } = await readAll(fileOf(file, "jsonl", "sub/custom.ndjson"), { idField: "key", textField: "body", metaFields: ["x", "tags"] });
    expect(documents).toEqual([
      { docId: "a", source: `${file}:1`, text: "first body", metadata: { x: "1" } },
      { docId: "sub/custom.ndjson:3", source: `${file}:3`, text: "second body", metadata: { tags: '["t1","t2"]' } },
      { docId: "7", source: `${file}:4`, text: "third", metadata: {} },
    ]);
  });

  it("reads each csv row as a document, quoted fields and Chinese included", async () => {
    const file = path.join(corpus, "records", "staff.csv");
    const { documents } = await readAll(fileOf(file, "csv"), { idField: "id", textField: "text", metaFields: ["name"] });
    expect(documents.map((document) => [document.docId, document.source])).toEqual([
      ["S-01", `${file}:2`],
      ["S-02", `${file}:3`],
      ["S-03", `${file}:4`],
      ["S-04", `${file}:5`],
    ]);
    expect(documents[1]).toMatchObject({ text: "name: 王芳\ndepartment: 呼吸内科\nrole: 主治医师", metadata: { name: "王芳" } });
    expect(documents[2]?.text).toContain("role: reads chest films, CT and MRI");
  });

  it("streams a large jsonl file: records arrive before the file is read to its end", async () => {
    const line = `${JSON.stringify({ id: "x", text: "y".repeat(1000) })}\n`;
    const file = scratchFile("large.jsonl", line.repeat(2000));
    let bytes = 0;
    const generator = readDocuments(fileOf(file, "jsonl"), { fields: defaultRecordFields, onData: (chunk) => (bytes += chunk.length) });
    await generator.next();
    expect(bytes).toBeLessThan(fs.statSync(file).size);
    await generator.return(undefined);
  });

  it("fails a text file with invalid UTF-8, naming the file and the line", async () => {
    const file = scratchFile("broken.txt", Buffer.concat([Buffer.from("第一行\nsecond line\n"), Buffer.from([0x41, 0xff, 0xfe, 0x42]), Buffer.from("\nlast\n")]));
    const error = await readAll(fileOf(file, "txt")).catch((failure: unknown) => failure);
    expect(error).toBeInstanceOf(DocumentError);
    expect((error as Error).message).toBe(`${file}:3: invalid UTF-8`);
  });

  it("fails a jsonl file at a bad line or invalid UTF-8, naming the file and the line", async () => {
    const bad = scratchFile("bad.jsonl", '{"id":"1","text":"ok"}\n{"id":"2","text":"ok"}\n{"id":"3", text: oops}\n');
    await expect(readAll(fileOf(bad, "jsonl"))).rejects.toThrow(new RegExp(`^${escape(bad)}:3: not valid JSON`));
    const array = scratchFile("array.jsonl", '{"id":"1","text":"ok"}\n[1,2]\n');
    await expect(readAll(fileOf(array, "jsonl"))).rejects.toThrow(`${array}:2: expected a JSON object, one per line`);
    const binary = scratchFile("binary.jsonl", Buffer.concat([Buffer.from('{"id":"1","text":"ok"}\n{"id":"2","text":"'), Buffer.from([0xc3, 0x28]), Buffer.from('"}\n')]));
    await expect(readAll(fileOf(binary, "jsonl"))).rejects.toThrow(`${binary}:2: invalid UTF-8`);
  });

  it("fails a malformed csv file or one with invalid UTF-8, naming the file", async () => {
    const ragged = scratchFile("ragged.csv", "id,text\n1,fine\n2,too,many\n");
    const error = await readAll(fileOf(ragged, "csv")).catch((failure: unknown) => failure);
    expect(error).toBeInstanceOf(DocumentError);
    expect((error as Error).message).toMatch(new RegExp(`^${escape(ragged)}: malformed CSV: .*line 3`));
    const quote = scratchFile("quote.csv", 'id,text\n1,"never closed\n');
    await expect(readAll(fileOf(quote, "csv"))).rejects.toThrow(`${quote}: malformed CSV`);
    const binary = scratchFile("binary.csv", Buffer.concat([Buffer.from("id,text\n1,ok\n2,"), Buffer.from([0xe4, 0xb8]), Buffer.from("\n")]));
    await expect(readAll(fileOf(binary, "csv"))).rejects.toThrow(`${binary}:3: invalid UTF-8`);
  });

  it("reads any bytes as documents or fails with a DocumentError naming the file, in every format", async () => {
    const pieces = fc.oneof(
      fc.uint8Array({ maxLength: 40 }).map((bytes) => Buffer.from(bytes)),
      fc.constantFrom('{"id":"a","text":"x"}', '"q,"', ",", "\n", "\r\n", "{", "}", '"', "病历", "\uFEFF", "id,text").map((text) => Buffer.from(text)),
    );
    let run = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(pieces, { maxLength: 30 }), fc.constantFrom<DocumentFormat>("txt", "md", "jsonl", "csv"), async (parts, format) => {
        const file = scratchFile(`fuzz-${(run += 1)}.${format}`, Buffer.concat(parts));
        try {
          const { documents } = await readAll(fileOf(file, format));
          for (const document of documents) expect(document.text.trim()).not.toBe("");
        } catch (error) {
          expect(error).toBeInstanceOf(DocumentError);
          expect((error as Error).message.startsWith(file)).toBe(true);
        } finally {
          fs.rmSync(file);
        }
      }),
      { numRuns: 200 },
    );
  });

  it("names a file it cannot open", async () => {
    const missing = path.join(scratch, "gone.jsonl");
    await expect(readAll({ path: missing, source: missing, relative: "gone.jsonl", format: "jsonl", size: 0 })).rejects.toThrow(`${missing}: cannot read it`);
  });
});

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}
