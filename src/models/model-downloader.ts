// Pulls a model into the cache: resumable streamed download, SHA-256 verification, sidecar record, cache hits.
import { createHash } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { hashFileInto, normalizeSha256, partialSuffix, readSidecar, removeSidecar, sha256OfFile, writeSidecar } from "./model-cache.js";
import { parseModelSpec } from "./model-source.js";

export interface PullModelOptions {
  /** Directory downloaded files are stored in (see modelCacheDir()). */
  cacheDir: string;
  /** Expected SHA-256; without it the server's X-Linked-Etag / ETag is used when it is a SHA-256. */
  sha256?: string;
  /** Bytes on disk so far (a resumed download starts above zero) and the full size when the server says it. */
  onProgress?: (received: number, total: number | undefined) => void;
  signal?: AbortSignal;
  fetchImplementation?: typeof fetch;
  /** Read for CLAWBOT_HF_ENDPOINT; process.env by default. */
  environment?: NodeJS.ProcessEnv;
  /** Further attempts after a network failure, each resuming where the last stopped (default: env CLAWBOT_DOWNLOAD_RETRIES, else 3). */
  retries?: number;
  /** Wait before the n-th retry is n times this (default 1000 ms). */
  retryDelayMs?: number;
}

export interface PullModelResult {
  path: string;
  /** The file's SHA-256; undefined only for a local path with no sidecar and no expected hash (it is not hashed then). */
  sha256: string | undefined;
  /** True when this call transferred bytes. */
  downloaded: boolean;
  /**
   * What `sha256` was compared with: the hash the caller gave, the digest the server published (X-Linked-Etag/ETag),
   * or nothing (undefined): then it is only the digest of the bytes received, checked against nothing.
   */
  checkedAgainst: "given" | "server" | undefined;
}

/** An HTTP error status from the server. */
export class ModelDownloadError extends Error {
  readonly url: string;
  readonly status: number | undefined;

  constructor(message: string, url: string, status?: number, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "ModelDownloadError";
    this.url = url;
    this.status = status;
  }
}

export class ChecksumMismatchError extends Error {
  readonly expected: string;
  readonly actual: string;

  constructor(subject: string, expected: string, actual: string, expectedFrom: string) {
    super(`SHA-256 mismatch for ${subject}: expected ${expected} (${expectedFrom}), got ${actual}`);
    this.name = "ChecksumMismatchError";
    this.expected = expected;
    this.actual = actual;
  }
}

/** The body ended before Content-Length bytes arrived; the partial file is kept and the next attempt resumes. */
class IncompleteDownloadError extends Error {
  override readonly name = "IncompleteDownloadError";
}

/**
 * Makes a model available on disk and returns its path. A local path is checked and returned as is.
 * A URL or hf: URI is downloaded to `<cacheDir>/<fileName>` unless it is already there with a recorded
 * (and, when given, matching) SHA-256; an interrupted download is resumed from `<fileName>.partial`.
 */
export async function pullModel(spec: string, options: PullModelOptions): Promise<PullModelResult> {
  const expected = options.sha256 === undefined ? undefined : normalizeSha256(options.sha256);
  const source = parseModelSpec(spec, options.environment);
  if (source.kind === "path") return useLocalFile(source.path, expected);
  await fs.promises.mkdir(options.cacheDir, { recursive: true });
  const target = path.join(options.cacheDir, source.fileName);
  const cached = await findCached(target, expected);
  if (cached !== undefined) return { path: target, sha256: cached, downloaded: false, checkedAgainst: expected === undefined ? undefined : "given" };
  const { sha256, checkedAgainst } = await downloadWithRetries(source.url, target, expected, options);
  return { path: target, sha256, downloaded: true, checkedAgainst };
}

/** The retry count from CLAWBOT_DOWNLOAD_RETRIES (a whole number ≥ 0), else 3. */
export function downloadRetries(environment: NodeJS.ProcessEnv = process.env): number {
  const configured = environment.CLAWBOT_DOWNLOAD_RETRIES?.trim();
  if (!configured) return 3;
  if (!/^\d+$/.test(configured)) {
    throw new Error(`CLAWBOT_DOWNLOAD_RETRIES: expected a whole number of retries (0 or more), got "${environment.CLAWBOT_DOWNLOAD_RETRIES}"`);
  }
  return Number(configured);
}

async function useLocalFile(file: string, expected: string | undefined): Promise<PullModelResult> {
  let stats: fs.Stats;
  try {
    stats = await fs.promises.stat(file);
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code === "ENOENT" ? "no such file" : (error as Error).message;
    throw new Error(`Model file ${file}: ${reason}`, { cause: error });
  }
  if (!stats.isFile()) throw new Error(`Model file ${file}: not a regular file`);
  if (expected === undefined) return { path: file, sha256: await readSidecar(file), downloaded: false, checkedAgainst: undefined };
  const actual = await sha256OfFile(file);
  if (actual !== expected) throw new ChecksumMismatchError(file, expected, actual, "the expected hash given");
  return { path: file, sha256: actual, downloaded: false, checkedAgainst: "given" };
}

/** The hash of an already downloaded target when it can be used as is. */
async function findCached(target: string, expected: string | undefined): Promise<string | undefined> {
  if (!(await isFile(target))) return undefined;
  const recorded = await readSidecar(target);
  if (recorded !== undefined) return expected === undefined || recorded === expected ? recorded : undefined;
  // A file placed here by hand, without a sidecar: adopt it if it has the expected hash.
  if (expected === undefined) return undefined;
  const actual = await sha256OfFile(target);
  if (actual !== expected) return undefined;
  await writeSidecar(target, actual);
  return actual;
}

type DownloadedHash = Pick<PullModelResult, "checkedAgainst"> & { sha256: string };

async function downloadWithRetries(url: string, target: string, expected: string | undefined, options: PullModelOptions): Promise<DownloadedHash> {
  const retries = options.retries ?? downloadRetries(options.environment);
  const retryDelayMs = options.retryDelayMs ?? 1000;
  for (let attempt = 0; ; attempt += 1) {
    try {
      return await downloadOnce(url, target, expected, options, false);
    } catch (error) {
      if (options.signal?.aborted) throw error;
      if (!isRetryable(error)) {
        if (error instanceof TypeError) throw new ModelDownloadError(`Download of ${url} failed: ${describe(error)}`, url, undefined, { cause: error });
        throw error;
      }
      if (attempt >= retries) {
        const attempts = attempt + 1;
        // Only say a partial file is kept when one is there (a host that never answered left nothing).
        const partial = target + partialSuffix;
        const kept = (await fileSize(partial)) > 0 ? ` (the partial file ${partial} is kept; pulling again resumes it)` : "";
        throw new ModelDownloadError(
          `Download of ${url} failed after ${attempts} attempt${attempts > 1 ? "s" : ""}: ${describe(error)}${kept}`,
          url,
          error instanceof ModelDownloadError ? error.status : undefined,
          { cause: error },
        );
      }
      await sleep(retryDelayMs * (attempt + 1), undefined, { signal: options.signal });
    }
  }
}

async function downloadOnce(url: string, target: string, expected: string | undefined, options: PullModelOptions, fromZero: boolean): Promise<DownloadedHash> {
  const partial = target + partialSuffix;
  const offset = fromZero ? 0 : await fileSize(partial);
  const headers: Record<string, string> = { "accept-encoding": "identity" };
  if (offset > 0) headers.range = `bytes=${offset}-`;
  const { response, finalUrl, serverHash } = await fetchFollowingRedirects(url, headers, options);

  let total: number | undefined;
  let append = false;
  if (response.status === 416 && offset > 0) {
    // The partial is as long as (or longer than) the file: its state is unknown, so start over.
    await discard(response);
    return downloadOnce(url, target, expected, options, true);
  }
  if (!response.ok) {
    await discard(response);
    const where = finalUrl === url ? url : `${url} (redirected to ${finalUrl})`;
    const reason = `${response.status}${response.statusText ? ` ${response.statusText}` : ""}`;
    throw new ModelDownloadError(`Download of ${where} failed: HTTP ${reason}`, url, response.status);
  }
  if (response.status === 206) {
    const range = parseContentRange(response.headers.get("content-range"));
    if (range === undefined || range.start !== offset) {
      await discard(response);
      if (offset === 0) throw new ModelDownloadError(`Download of ${url} failed: unexpected partial response`, url, 206);
      return downloadOnce(url, target, expected, options, true);
    }
    append = offset > 0;
    total = range.total;
  } else {
    // 200: the server sent the whole file (it ignored or lacks Range support); start from zero.
    total = contentLength(response.headers.get("content-length"));
  }

  const hash = createHash("sha256");
  if (append && (await hashFileInto(partial, hash)) !== offset) {
    await discard(response);
    return downloadOnce(url, target, expected, options, true);
  }
  let received = append ? offset : 0;
  options.onProgress?.(received, total);
  const handle = await fs.promises.open(partial, append ? "a" : "w");
  try {
    if (response.body !== null) {
      for await (const chunk of response.body) {
        hash.update(chunk);
        await writeAll(handle, chunk);
        received += chunk.byteLength;
        options.onProgress?.(received, total);
      }
    }
  } finally {
    await handle.close();
  }
  if (total !== undefined && received !== total) {
    throw new IncompleteDownloadError(`the connection closed after ${received} of ${total} bytes`);
  }

  const actual = hash.digest("hex");
  const expectedHash = expected ?? serverHash;
  if (expectedHash !== undefined && actual !== expectedHash) {
    await fs.promises.rm(partial, { force: true });
    const from = expected !== undefined ? "the expected hash given" : "the server's X-Linked-Etag/ETag header";
    throw new ChecksumMismatchError(`${url}`, expectedHash, actual, `${from}; the download was deleted`);
  }
  await removeSidecar(target);
  await fs.promises.rename(partial, target);
  await writeSidecar(target, actual);
  return { sha256: actual, checkedAgainst: expected !== undefined ? "given" : serverHash !== undefined ? "server" : undefined };
}

/** Follows redirects by hand so that a hash sent on a redirect hop (Hugging Face's X-Linked-Etag) is not lost. */
async function fetchFollowingRedirects(
  url: string,
  headers: Record<string, string>,
  options: PullModelOptions,
): Promise<{ response: Response; finalUrl: string; serverHash: string | undefined }> {
  const fetchImplementation = options.fetchImplementation ?? fetch;
  let current = url;
  let linkedHash: string | undefined;
  for (let hop = 0; hop <= 10; hop += 1) {
    const response = await fetchImplementation(current, { headers, signal: options.signal, redirect: "manual" });
    linkedHash ??= headerHash(response.headers.get("x-linked-etag"));
    const location = response.headers.get("location");
    if (response.status >= 300 && response.status < 400 && location !== null) {
      await discard(response);
      current = new URL(location, current).toString();
      continue;
    }
    return { response, finalUrl: current, serverHash: linkedHash ?? headerHash(response.headers.get("etag")) };
  }
  throw new ModelDownloadError(`Download of ${url} failed: too many redirects`, url);
}

/** A SHA-256 from an (X-Linked-)ETag header value such as `"abc…"` or `W/"abc…"`, else undefined. */
function headerHash(value: string | null): string | undefined {
  if (value === null) return undefined;
  const stripped = value.trim().replace(/^W\//i, "").replace(/^"|"$/g, "").toLowerCase();
  return /^[0-9a-f]{64}$/.test(stripped) ? stripped : undefined;
}

function parseContentRange(value: string | null): { start: number; total: number | undefined } | undefined {
  const match = value === null ? null : /^bytes\s+(\d+)-(\d+)\/(\d+|\*)$/i.exec(value.trim());
  if (match === null) return undefined;
  return { start: Number(match[1]), total: match[3] === "*" ? undefined : Number(match[3]) };
}

function contentLength(value: string | null): number | undefined {
  if (value === null || !/^\d+$/.test(value.trim())) return undefined;
  return Number(value);
}

function isRetryable(error: unknown): boolean {
  if (error instanceof IncompleteDownloadError) return true;
  if (error instanceof ModelDownloadError) return error.status !== undefined && (error.status >= 500 || error.status === 429);
  // Node's fetch reports network failures ("fetch failed", "terminated") as TypeError; a host name that does not
  // exist (ENOTFOUND, e.g. offline with no DNS) will not appear a second later, so that one fails at once.
  if (error instanceof TypeError) return (error.cause as NodeJS.ErrnoException | undefined)?.code !== "ENOTFOUND";
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  return typeof code === "string" && ["ECONNRESET", "ECONNREFUSED", "ETIMEDOUT", "EPIPE", "EAI_AGAIN", "UND_ERR_SOCKET"].includes(code);
}

function describe(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const cause = error.cause instanceof Error ? error.cause.message : undefined;
  return cause && cause !== error.message ? `${error.message} (${cause})` : error.message;
}

async function writeAll(handle: fs.promises.FileHandle, chunk: Uint8Array): Promise<void> {
  let written = 0;
  while (written < chunk.byteLength) {
    const { bytesWritten } = await handle.write(chunk, written, chunk.byteLength - written);
    written += bytesWritten;
  }
}

async function discard(response: Response): Promise<void> {
  await response.body?.cancel().catch(() => undefined);
}

async function fileSize(file: string): Promise<number> {
  try {
    return (await fs.promises.stat(file)).size;
  } catch {
    return 0;
  }
}

async function isFile(file: string): Promise<boolean> {
  try {
    return (await fs.promises.stat(file)).isFile();
  } catch {
    return false;
  }
}
