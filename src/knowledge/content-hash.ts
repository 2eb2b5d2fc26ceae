// SM3 content hashes for change detection at ingest: a file's bytes (streamed) and a document's text and metadata.
import { createHash, type Hash } from "node:crypto";
import fs from "node:fs";
import type { SourceDocument } from "./knowledge-types.js";

export function sm3(): Hash {
  return createHash("sm3");
}

/** SM3 hex of a file's bytes, read in blocks. */
export async function hashFile(file: string): Promise<string> {
  const hash = sm3();
  for await (const chunk of fs.createReadStream(file, { highWaterMark: 256 * 1024 }) as AsyncIterable<Buffer>) hash.update(chunk);
  return hash.digest("hex");
}

/** SM3 hex of a document's text and metadata (keys sorted): an unchanged record of a changed file is skipped. */
export function hashDocument(document: Pick<SourceDocument, "text" | "metadata">): string {
  const metadata = Object.keys(document.metadata)
    .sort()
    .map((key) => [key, document.metadata[key]]);
  return sm3().update(JSON.stringify([document.text, metadata])).digest("hex");
}
