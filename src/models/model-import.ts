// Puts a local GGUF file into the model cache (a hard link on the same filesystem, else a copy) with its SHA-256 recorded.
import fs from "node:fs";
import path from "node:path";
import { assertGgufFile } from "../engine/llama/gguf-file-check.js";
import { ChecksumMismatchError } from "./model-downloader.js";
import { normalizeSha256, readSidecar, sha256OfFile, writeSidecar } from "./model-cache.js";

export interface ImportModelOptions {
  cacheDir: string;
  /** The name in the cache (default: the file's own name). */
  name?: string;
  /** Expected SHA-256; the import is refused when the file does not have it. */
  sha256?: string;
  /** Replace a different model already cached under that name. */
  force?: boolean;
}

export interface ImportModelResult {
  path: string;
  sha256: string;
  /** "linked": a hard link (no extra space, same bytes as the original); "copied"; "present": already cached, nothing done. */
  method: "linked" | "copied" | "present";
}

/** Imports `file` into the cache after checking it is a GGUF file; the digest is recorded like a pulled model's. */
export async function importModel(file: string, options: ImportModelOptions): Promise<ImportModelResult> {
  const source = path.resolve(file);
  const stats = await fs.promises.stat(source).catch((error: NodeJS.ErrnoException) => {
    throw new Error(`Model file ${source}: ${error.code === "ENOENT" ? "no such file" : error.message}`, { cause: error });
  });
  if (!stats.isFile()) throw new Error(`Model file ${source}: not a regular file`);
  assertGgufFile(source, "Model file");
  const name = options.name ?? path.basename(source);
  if (name === "" || name === "." || name === ".." || /[/\\\0]/.test(name) || name.endsWith(".partial") || name.endsWith(".sha256")) {
    throw new Error(`"${name}" cannot be a model name in the cache (a plain file name, not ending in .partial or .sha256)`);
  }
  const expected = options.sha256 === undefined ? undefined : normalizeSha256(options.sha256);
  const target = path.join(options.cacheDir, name);
  await fs.promises.mkdir(options.cacheDir, { recursive: true });

  const existing = await fs.promises.stat(target).catch(() => undefined);
  if (existing !== undefined) {
    const sameFile = existing.ino === stats.ino && existing.dev === stats.dev;
    const sha256 = sameFile ? ((await readSidecar(target)) ?? (await sha256OfFile(source))) : await sha256OfFile(source);
    if (expected !== undefined && sha256 !== expected) throw new ChecksumMismatchError(source, expected, sha256, "the expected hash given");
    if (sameFile || (await cachedDigest(target)) === sha256) {
      await writeSidecar(target, sha256);
      return { path: target, sha256, method: "present" };
    }
    if (!options.force) throw new Error(`A different model named ${name} is already in the cache (${target}); choose another --name, or --force to replace it`);
  }

  const temporary = path.join(options.cacheDir, `.${name}.${process.pid}.import.tmp`);
  await fs.promises.rm(temporary, { force: true });
  let method: "linked" | "copied" = "linked";
  try {
    await fs.promises.link(source, temporary);
  } catch {
    // Another filesystem (EXDEV), or links not allowed here: copy instead.
    method = "copied";
    await fs.promises.copyFile(source, temporary);
  }
  try {
    // Hash what is now in the cache, so a copy is checked as it landed.
    const sha256 = await sha256OfFile(temporary);
    if (expected !== undefined && sha256 !== expected) throw new ChecksumMismatchError(source, expected, sha256, "the expected hash given");
    await fs.promises.rename(temporary, target);
    await writeSidecar(target, sha256);
    return { path: target, sha256, method };
  } finally {
    await fs.promises.rm(temporary, { force: true });
  }
}

/** The recorded digest of a cached file, or its computed one when none was recorded. */
async function cachedDigest(file: string): Promise<string> {
  return (await readSidecar(file)) ?? (await sha256OfFile(file));
}
