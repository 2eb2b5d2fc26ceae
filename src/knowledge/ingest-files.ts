// Finds the files an ingest reads: given files, and the supported files below given directories (hidden ones skipped).
import fs from "node:fs";
import path from "node:path";
import { ClawError } from "../core/errors.js";
import type { DocumentFile, DocumentFormat } from "./document-readers.js";

/** `--format`: from each file's extension, or one format for every file. */
export type FormatChoice = "auto" | DocumentFormat;

const extensions: Record<string, DocumentFormat> = {
  ".txt": "txt",
  ".text": "txt",
  ".md": "md",
  ".markdown": "md",
  ".jsonl": "jsonl",
  ".ndjson": "jsonl",
  ".csv": "csv",
};

/** The format a file's extension says; undefined for an extension no reader takes. */
export function formatOf(file: string): DocumentFormat | undefined {
  return extensions[path.extname(file).toLowerCase()];
}

export interface FoundFiles {
  files: DocumentFile[];
  /** Files below a directory with an extension no reader takes (as given + the part below it). */
  skipped: string[];
}

/**
 * The files to read, in a stable order (each given path in turn, a directory's entries sorted). A missing path, or a
 * file given by name whose format cannot be told, is a `bad_request` naming it.
 */
export function findIngestFiles(paths: readonly string[], format: FormatChoice): FoundFiles {
  const files: DocumentFile[] = [];
  const skipped: string[] = [];
  const seen = new Set<string>();
  const add = (absolute: string, source: string, relative: string, size: number, chosen: DocumentFormat) => {
    if (seen.has(absolute)) return;
    seen.add(absolute);
    files.push({ path: absolute, source, relative: relative.split(path.sep).join("/"), format: chosen, size });
  };
  for (const given of paths) {
    const absolute = path.resolve(given);
    let stat: fs.Stats;
    try {
      stat = fs.statSync(absolute);
    } catch {
      throw new ClawError("bad_request", `${given}: no such file or directory`);
    }
    if (stat.isDirectory()) {
      walk(absolute, given, "", (file, source, relative, size) => {
        const chosen = format === "auto" ? formatOf(file) : format;
        if (chosen) add(file, source, relative, size, chosen);
        else skipped.push(source);
      });
    } else if (stat.isFile()) {
      const chosen = format === "auto" ? formatOf(absolute) : format;
      if (!chosen) {
        throw new ClawError("bad_request", `${given}: cannot tell its format from the extension (supported: ${Object.keys(extensions).join(" ")}); use --format`);
      }
      add(absolute, given, path.basename(absolute), stat.size, chosen);
    } else {
      throw new ClawError("bad_request", `${given}: not a file or directory`);
    }
  }
  return { files, skipped };
}

/** Every regular file below `directory` (symbolic links followed), hidden files and directories left out. */
function walk(directory: string, source: string, relative: string, visit: (file: string, source: string, relative: string, size: number) => void): void {
  const entries = fs.readdirSync(directory, { withFileTypes: true }).sort((left, right) => (left.name < right.name ? -1 : left.name > right.name ? 1 : 0));
  for (const entry of entries) {
    if (entry.name.startsWith(".")) continue;
    const absolute = path.join(directory, entry.name);
    const entrySource = path.join(source, entry.name);
    const entryRelative = relative === "" ? entry.name : path.join(relative, entry.name);
    let stat: fs.Stats;
    try {
      stat = fs.statSync(absolute);
    } catch {
      continue; // A dangling link.
    }
    if (stat.isDirectory()) walk(absolute, entrySource, entryRelative, visit);
    else if (stat.isFile()) visit(absolute, entrySource, entryRelative, stat.size);
  }
}
