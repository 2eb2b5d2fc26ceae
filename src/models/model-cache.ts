// The model cache directory on disk: SHA-256 sidecar files, hashing of files, and listing what is cached.
import { createHash } from "node:crypto";
import fs from "node:fs";
import path from "node:path";

export const sidecarSuffix = ".sha256";
export const partialSuffix = ".partial";

const sha256Pattern = /^[0-9a-f]{64}$/;

export function isSha256(value: string): boolean {
  return sha256Pattern.test(value);
}

/** Lower-cases a user-given hash and checks it is 64 hex digits. */
export function normalizeSha256(value: string): string {
  const normalized = value.trim().toLowerCase();
  if (!isSha256(normalized)) throw new Error(`"${value}" is not a SHA-256 hash (expected 64 hex digits)`);
  return normalized;
}

export function sidecarPath(file: string): string {
  return file + sidecarSuffix;
}

/** The hash recorded next to a file (`<file>.sha256`, in `sha256sum` format), or undefined if absent or unreadable. */
export async function readSidecar(file: string): Promise<string | undefined> {
  let text: string;
  try {
    text = await fs.promises.readFile(sidecarPath(file), "utf8");
  } catch {
    return undefined;
  }
  const hash = text.trim().split(/\s+/)[0]?.toLowerCase() ?? "";
  return isSha256(hash) ? hash : undefined;
}

/** Records a file's hash in `<file>.sha256` (`sha256sum -c` can check it), written atomically. */
export async function writeSidecar(file: string, sha256: string): Promise<void> {
  const target = sidecarPath(file);
  const temporary = `${target}.${process.pid}.tmp`;
  await fs.promises.writeFile(temporary, `${sha256}  ${path.basename(file)}\n`);
  await fs.promises.rename(temporary, target);
}

export async function removeSidecar(file: string): Promise<void> {
  await fs.promises.rm(sidecarPath(file), { force: true });
}

/** Feeds a file into a running SHA-256 (so a resumed download can continue it) and returns the bytes read. */
export async function hashFileInto(file: string, hash: ReturnType<typeof createHash>): Promise<number> {
  let size = 0;
  for await (const chunk of fs.createReadStream(file, { highWaterMark: 1 << 20 })) {
    hash.update(chunk as Buffer);
    size += (chunk as Buffer).length;
  }
  return size;
}

export async function sha256OfFile(file: string): Promise<string> {
  const hash = createHash("sha256");
  await hashFileInto(file, hash);
  return hash.digest("hex");
}

export interface CachedModel {
  fileName: string;
  path: string;
  size: number;
  /** From the sidecar; undefined when none was recorded. */
  sha256: string | undefined;
  /** True for an interrupted download (`.partial`) that a later pull resumes. */
  partial: boolean;
  modified: Date;
}

/** Lists the model files in a cache directory (sidecars and temporary files are not listed); empty if it does not exist. */
export async function listCachedModels(cacheDir: string): Promise<CachedModel[]> {
  let entries: fs.Dirent[];
  try {
    entries = await fs.promises.readdir(cacheDir, { withFileTypes: true });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return [];
    throw error;
  }
  const models: CachedModel[] = [];
  for (const entry of entries) {
    if (!entry.isFile() || entry.name.endsWith(sidecarSuffix) || entry.name.endsWith(".tmp")) continue;
    const file = path.join(cacheDir, entry.name);
    const partial = entry.name.endsWith(partialSuffix);
    let stats: fs.Stats;
    try {
      stats = await fs.promises.stat(file);
    } catch {
      continue;
    }
    models.push({
      fileName: entry.name,
      path: file,
      size: stats.size,
      sha256: partial ? undefined : await readSidecar(file),
      partial,
      modified: stats.mtime,
    });
  }
  return models.sort((first, second) => first.fileName.localeCompare(second.fileName));
}
