// Reads the documents of one file, streamed: a txt/md file is one document, each jsonl line and csv row is one.
import fs from "node:fs";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { parse } from "csv-parse";
import { ClawError } from "../core/errors.js";
import type { SourceDocument } from "./knowledge-types.js";
import { recordDocument, type RecordFields } from "./record-document.js";

export type DocumentFormat = "txt" | "md" | "jsonl" | "csv";

export interface DocumentFile {
  /** Absolute path. */
  path: string;
  /** The path as given on the command line (joined with the part below a given directory): sources show it. */
  source: string;
  /** Relative to the ingest root (the file name when a file was given): a text file's docId, a record's default id prefix. */
  relative: string;
  format: DocumentFormat;
  /** Bytes, when the walk read it. */
  size: number;
}

export interface ReadOptions {
  fields: RecordFields;
  /** Called with every block of bytes read (progress, and the content hash of what was read). */
  onData?: (bytes: Buffer) => void;
}

/** A file that cannot be read as its format: invalid UTF-8, a bad JSON line, a malformed CSV. The message names the file (and line). */
export class DocumentError extends ClawError {
  constructor(message: string, options?: { cause?: unknown }) {
    super("bad_request", message, options);
    this.name = "DocumentError";
  }
}

/** The file's documents in order; throws a DocumentError naming the file (and line) when it is not valid for its format. */
export function readDocuments(file: DocumentFile, options: ReadOptions): AsyncGenerator<SourceDocument> {
  switch (file.format) {
    case "txt":
    case "md":
      return readTextDocument(file, options);
    case "jsonl":
      return readJsonlDocuments(file, options);
    case "csv":
      return readCsvDocuments(file, options);
  }
}

async function* readTextDocument(file: DocumentFile, options: ReadOptions): AsyncGenerator<SourceDocument> {
  const bytes = await readFileBytes(file);
  options.onData?.(bytes);
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch (error) {
    throw new DocumentError(`${file.source}:${invalidLine(bytes)}: invalid UTF-8`, { cause: error });
  }
  if (text.trim() === "") return;
  yield { docId: file.relative, source: file.source, text, metadata: {} };
}

async function* readJsonlDocuments(file: DocumentFile, options: ReadOptions): AsyncGenerator<SourceDocument> {
  for await (const { text, line } of utf8Lines(file, options.onData)) {
    if (text.trim() === "") continue;
    let record: unknown;
    try {
      record = JSON.parse(text);
    } catch (error) {
      throw new DocumentError(`${file.source}:${line}: not valid JSON (${(error as Error).message})`, { cause: error });
    }
    if (record === null || typeof record !== "object" || Array.isArray(record)) {
      throw new DocumentError(`${file.source}:${line}: expected a JSON object, one per line`);
    }
    const document = recordDocument(record as Record<string, unknown>, options.fields, { relative: file.relative, source: file.source, line });
    if (document) yield document;
  }
}

async function* readCsvDocuments(file: DocumentFile, options: ReadOptions): AsyncGenerator<SourceDocument> {
  const parser = parse({ columns: true, bom: true, skip_empty_lines: true, info: true });
  async function* text(): AsyncGenerator<string> {
    for await (const { text, line } of utf8Lines(file, options.onData)) yield line === 1 ? text : `\n${text}`;
  }
  const source = Readable.from(text(), { objectMode: false });
  // A reading failure (invalid UTF-8) destroys the parser with it, so the loop below throws it.
  const piped = pipeline(source, parser).catch(() => undefined);
  try {
    for await (const entry of parser as AsyncIterable<{ record: Record<string, string>; info: { lines: number } }>) {
      const document = recordDocument(entry.record, options.fields, { relative: file.relative, source: file.source, line: entry.info.lines });
      if (document) yield document;
    }
  } catch (error) {
    if (error instanceof DocumentError) throw error;
    throw new DocumentError(`${file.source}: malformed CSV: ${(error as Error).message}`, { cause: error });
  } finally {
    source.destroy();
    parser.destroy();
    await piped;
  }
}

/** The file's lines (without line ends or a BOM), each decoded strictly: invalid UTF-8 throws naming the line. */
async function* utf8Lines(file: DocumentFile, onData: ((bytes: Buffer) => void) | undefined): AsyncGenerator<{ text: string; line: number }> {
  const decoder = new TextDecoder("utf-8", { fatal: true });
  let pending: Buffer[] = [];
  let line = 1;
  const decode = (parts: Buffer[]): string => {
    const bytes = parts.length === 1 ? (parts[0] as Buffer) : Buffer.concat(parts);
    let text: string;
    try {
      text = decoder.decode(bytes);
    } catch (error) {
      throw new DocumentError(`${file.source}:${line}: invalid UTF-8`, { cause: error });
    }
    if (line === 1 && text.charCodeAt(0) === 0xfeff) text = text.slice(1);
    return text.endsWith("\r") ? text.slice(0, -1) : text;
  };
  let stream: fs.ReadStream;
  try {
    stream = fs.createReadStream(file.path, { highWaterMark: 256 * 1024 });
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      onData?.(chunk);
      let start = 0;
      for (let end = chunk.indexOf(0x0a); end >= 0; end = chunk.indexOf(0x0a, start)) {
        pending.push(chunk.subarray(start, end));
        yield { text: decode(pending), line };
        pending = [];
        line += 1;
        start = end + 1;
      }
      if (start < chunk.length) pending.push(chunk.subarray(start));
    }
  } catch (error) {
    throw readFailure(file, error);
  }
  if (pending.length > 0) yield { text: decode(pending), line };
}

async function readFileBytes(file: DocumentFile): Promise<Buffer> {
  try {
    return await fs.promises.readFile(file.path);
  } catch (error) {
    throw readFailure(file, error);
  }
}

function readFailure(file: DocumentFile, error: unknown): Error {
  if (error instanceof DocumentError) return error;
  return new DocumentError(`${file.source}: cannot read it: ${(error as Error).message}`, { cause: error });
}

/** The 1-based line holding the first byte sequence that is not UTF-8. */
function invalidLine(bytes: Buffer): number {
  const decoder = new TextDecoder("utf-8", { fatal: true });
  let line = 1;
  let start = 0;
  for (let end = bytes.indexOf(0x0a); ; end = bytes.indexOf(0x0a, start)) {
    try {
      decoder.decode(bytes.subarray(start, end < 0 ? bytes.length : end));
    } catch {
      return line;
    }
    if (end < 0) return line;
    line += 1;
    start = end + 1;
  }
}
