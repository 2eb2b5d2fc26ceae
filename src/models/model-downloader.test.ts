// Tests for pullModel against a local HTTP server serving the real test model (Range, redirects, hashes, failures).
import { createHash } from "node:crypto";
import fs from "node:fs";
import http from "node:http";
import type { AddressInfo } from "node:net";
import os from "node:os";
import path from "node:path";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { testModelPath } from "../../test/helpers/test-model.js";
import { listCachedModels } from "./model-cache.js";
import { ChecksumMismatchError, ModelDownloadError, pullModel } from "./model-downloader.js";

let modelBytes: Buffer;
let modelSha256: string;
let server: http.Server;
let baseUrl: string;
let cacheDir: string;
const requests: { path: string; range: string | undefined }[] = [];
/** How many times each flaky path has been served; the first time it is cut short. */
const flakyServed = new Map<string, number>();
const cutAfterBytes = 300_000;

/** Serves `bytes` honouring a `bytes=<start>-` Range header, with an X-Linked-Etag like Hugging Face's LFS files. */
function serveFile(request: http.IncomingMessage, response: http.ServerResponse, bytes: Buffer, options: { etag: string | undefined; ranges: boolean }): void {
  const headers: http.OutgoingHttpHeaders = { "content-type": "application/octet-stream", "accept-ranges": "bytes" };
  if (options.etag !== undefined) headers["x-linked-etag"] = `"${options.etag}"`;
  const match = /^bytes=(\d+)-$/.exec(request.headers.range ?? "");
  if (options.ranges && match) {
    const start = Number(match[1]);
    if (start >= bytes.length) {
      response.writeHead(416, { "content-range": `bytes */${bytes.length}` }).end();
      return;
    }
    response.writeHead(206, { ...headers, "content-length": bytes.length - start, "content-range": `bytes ${start}-${bytes.length - 1}/${bytes.length}` });
    response.end(bytes.subarray(start));
    return;
  }
  response.writeHead(200, { ...headers, "content-length": bytes.length });
  response.end(bytes);
}

function handle(request: http.IncomingMessage, response: http.ServerResponse): void {
  const url = request.url ?? "/";
  requests.push({ path: url, range: request.headers.range });
  if (url === "/files/stories260K.gguf") return serveFile(request, response, modelBytes, { etag: modelSha256, ranges: true });
  if (url === "/no-ranges/stories260K.gguf") return serveFile(request, response, modelBytes, { etag: modelSha256, ranges: false });
  if (url === "/no-digest/stories260K.gguf") return serveFile(request, response, modelBytes, { etag: undefined, ranges: true });
  if (url === "/plain-etag/stories260K.gguf") {
    response.setHeader("etag", `"${modelSha256}"`);
    return serveFile(request, response, modelBytes, { etag: undefined, ranges: true });
  }
  if (url === "/wrong-etag/stories260K.gguf") return serveFile(request, response, modelBytes, { etag: "ab".repeat(32), ranges: true });
  // Hugging Face style: /<owner>/<repo>/resolve/<revision>/<path> answers 302 with the hash, the CDN serves the bytes.
  const resolve = /^\/hf\/([^/]+)\/([^/]+)\/resolve\/([^/]+)\/(.+)$/.exec(url);
  if (resolve && resolve[4]!.endsWith("stories260K.gguf")) {
    response.writeHead(302, { location: `/cdn/${resolve[3]}/stories260K.gguf`, "x-linked-etag": `"${modelSha256}"`, etag: '"0123456789abcdef0123456789abcdef01234567"' });
    response.end();
    return;
  }
  if (url.startsWith("/cdn/")) return serveFile(request, response, modelBytes, { etag: "not-a-sha256", ranges: true });
  if (url.startsWith("/flaky/")) {
    const served = flakyServed.get(url) ?? 0;
    flakyServed.set(url, served + 1);
    if (served > 0) return serveFile(request, response, modelBytes, { etag: modelSha256, ranges: true });
    response.writeHead(200, { "content-length": modelBytes.length, "x-linked-etag": `"${modelSha256}"` });
    response.write(modelBytes.subarray(0, cutAfterBytes), () => response.socket?.destroy());
    return;
  }
  response.writeHead(404, { "content-type": "text/plain" }).end("Entry not found");
}

beforeAll(async () => {
  modelBytes = await fs.promises.readFile(await testModelPath());
  modelSha256 = createHash("sha256").update(modelBytes).digest("hex");
  server = http.createServer(handle);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

beforeEach(async () => {
  cacheDir = await fs.promises.mkdtemp(path.join(os.tmpdir(), "clawbot-models-"));
  requests.length = 0;
  flakyServed.clear();
});

afterEach(async () => {
  await fs.promises.rm(cacheDir, { recursive: true, force: true });
});

async function cacheEntries(): Promise<string[]> {
  return (await fs.promises.readdir(cacheDir)).sort();
}

describe("pullModel", () => {
  it("downloads a URL into the cache, verifies it against X-Linked-Etag and records a sidecar", async () => {
    const progress: [number, number | undefined][] = [];
    const result = await pullModel(`${baseUrl}/files/stories260K.gguf`, { cacheDir, onProgress: (received, total) => progress.push([received, total]) });
    expect(result).toEqual({ path: path.join(cacheDir, "stories260K.gguf"), sha256: modelSha256, downloaded: true, checkedAgainst: "server" });
    expect(modelSha256).toBe("270cba1bd5109f42d03350f60406024560464db173c0e387d91f0426d3bd256d");
    expect((await fs.promises.readFile(result.path)).equals(modelBytes)).toBe(true);
    expect(await fs.promises.readFile(`${result.path}.sha256`, "utf8")).toBe(`${modelSha256}  stories260K.gguf\n`);
    expect(await cacheEntries()).toEqual(["stories260K.gguf", "stories260K.gguf.sha256"]);
    expect(progress.at(-1)).toEqual([modelBytes.length, modelBytes.length]);
    expect(await listCachedModels(cacheDir)).toMatchObject([{ fileName: "stories260K.gguf", size: modelBytes.length, sha256: modelSha256, partial: false }]);
  });

  it("does not download again when the file and its recorded hash are already there", async () => {
    const url = `${baseUrl}/files/stories260K.gguf`;
    await pullModel(url, { cacheDir });
    const before = requests.length;
    const second = await pullModel(url, { cacheDir, sha256: modelSha256.toUpperCase() });
    expect(second).toEqual({ path: path.join(cacheDir, "stories260K.gguf"), sha256: modelSha256, downloaded: false, checkedAgainst: "given" });
    expect(requests.length).toBe(before);
  });

  it("pulls an hf: URI from CLAWBOT_HF_ENDPOINT, taking the hash from the redirect hop", async () => {
    const environment = { CLAWBOT_HF_ENDPOINT: `${baseUrl}/hf` };
    const result = await pullModel("hf:ggml-org/models/tinyllamas/stories260K.gguf@rev1", { cacheDir, environment });
    expect(result).toMatchObject({ sha256: modelSha256, downloaded: true, path: path.join(cacheDir, "stories260K.gguf") });
    expect(requests.map((request) => request.path)).toEqual(["/hf/ggml-org/models/resolve/rev1/tinyllamas/stories260K.gguf", "/cdn/rev1/stories260K.gguf"]);
  });

  it("refuses an hf: download whose bytes do not match the hash on the redirect hop", async () => {
    const environment = { CLAWBOT_HF_ENDPOINT: `${baseUrl}/hf` };
    const expected = "cd".repeat(32);
    const pull = pullModel("hf:ggml-org/models/stories260K.gguf", { cacheDir, environment, sha256: expected });
    await expect(pull).rejects.toThrow(new RegExp(`expected ${expected}.*got ${modelSha256}`));
    expect(await cacheEntries()).toEqual([]);
  });

  it("resumes an interrupted download with a Range request (retries: 0, then a second pull)", async () => {
    const url = `${baseUrl}/flaky/one/stories260K.gguf`;
    await expect(pullModel(url, { cacheDir, retries: 0 })).rejects.toThrow(ModelDownloadError);
    const partialSize = (await fs.promises.stat(path.join(cacheDir, "stories260K.gguf.partial"))).size;
    expect(partialSize).toBeGreaterThan(0);
    expect(partialSize).toBeLessThanOrEqual(cutAfterBytes);
    expect(await cacheEntries()).toEqual(["stories260K.gguf.partial"]);
    expect(await listCachedModels(cacheDir)).toMatchObject([{ fileName: "stories260K.gguf.partial", partial: true, sha256: undefined }]);

    const progress: number[] = [];
    const result = await pullModel(url, { cacheDir, onProgress: (received) => progress.push(received) });
    expect(result).toMatchObject({ sha256: modelSha256, downloaded: true });
    expect(requests.map((request) => request.range)).toEqual([undefined, `bytes=${partialSize}-`]);
    expect(progress[0]).toBe(partialSize);
    expect((await fs.promises.readFile(result.path)).equals(modelBytes)).toBe(true);
    expect(await cacheEntries()).toEqual(["stories260K.gguf", "stories260K.gguf.sha256"]);
  });

  it("retries a dropped connection within one pull, resuming from the partial file", async () => {
    const result = await pullModel(`${baseUrl}/flaky/two/stories260K.gguf`, { cacheDir, retryDelayMs: 1 });
    expect(result).toMatchObject({ sha256: modelSha256, downloaded: true });
    expect(requests).toHaveLength(2);
    expect(requests[1]!.range).toMatch(/^bytes=[1-9]\d*-$/);
  });

  it("starts over when the server answers a Range request with the whole file", async () => {
    await fs.promises.writeFile(path.join(cacheDir, "stories260K.gguf.partial"), Buffer.from("garbage that is not the model"));
    const result = await pullModel(`${baseUrl}/no-ranges/stories260K.gguf`, { cacheDir });
    expect(requests[0]!.range).toBe("bytes=29-");
    expect(result.sha256).toBe(modelSha256);
    expect((await fs.promises.readFile(result.path)).equals(modelBytes)).toBe(true);
  });

  it("refuses a hash mismatch, deletes the download and leaves nothing in place", async () => {
    const expected = "00".repeat(32);
    const pull = pullModel(`${baseUrl}/files/stories260K.gguf`, { cacheDir, sha256: expected });
    await expect(pull).rejects.toThrow(ChecksumMismatchError);
    await expect(pullModel(`${baseUrl}/files/stories260K.gguf`, { cacheDir, sha256: expected })).rejects.toThrow(
      `SHA-256 mismatch for ${baseUrl}/files/stories260K.gguf: expected ${expected}`,
    );
    expect(await cacheEntries()).toEqual([]);
  });

  it("refuses a file that does not match the server's X-Linked-Etag", async () => {
    const pull = pullModel(`${baseUrl}/wrong-etag/stories260K.gguf`, { cacheDir });
    await expect(pull).rejects.toThrow(`expected ${"ab".repeat(32)} (the server's X-Linked-Etag/ETag header; the download was deleted), got ${modelSha256}`);
    expect(await cacheEntries()).toEqual([]);
  });

  it("names the URL and the status on an HTTP error", async () => {
    const pull = pullModel(`${baseUrl}/missing/model.gguf`, { cacheDir });
    await expect(pull).rejects.toThrow(`Download of ${baseUrl}/missing/model.gguf failed: HTTP 404 Not Found`);
    await expect(pull).rejects.toMatchObject({ status: 404 });
    expect(requests).toHaveLength(1);
    expect(await cacheEntries()).toEqual([]);
  });

  it("returns a local path as is and checks it exists", async () => {
    const file = await testModelPath();
    expect(await pullModel(file, { cacheDir })).toMatchObject({ path: file, downloaded: false });
    expect(await pullModel(file, { cacheDir, sha256: modelSha256 })).toEqual({ path: file, sha256: modelSha256, downloaded: false, checkedAgainst: "given" });
    await expect(pullModel(file, { cacheDir, sha256: "11".repeat(32) })).rejects.toThrow(ChecksumMismatchError);
    await expect(pullModel(path.join(cacheDir, "absent.gguf"), { cacheDir })).rejects.toThrow(/absent\.gguf: no such file/);
    expect(requests).toHaveLength(0);
  });

  it("says what the digest was checked against: the hash given, the server's (X-Linked-)ETag, or nothing", async () => {
    const given = await pullModel(`${baseUrl}/no-digest/stories260K.gguf`, { cacheDir, sha256: modelSha256 });
    expect(given).toMatchObject({ sha256: modelSha256, downloaded: true, checkedAgainst: "given" });
    await fs.promises.rm(cacheDir, { recursive: true });
    const plainEtag = await pullModel(`${baseUrl}/plain-etag/stories260K.gguf`, { cacheDir });
    expect(plainEtag).toMatchObject({ sha256: modelSha256, downloaded: true, checkedAgainst: "server" });
    await fs.promises.rm(cacheDir, { recursive: true });
    const unchecked = await pullModel(`${baseUrl}/no-digest/stories260K.gguf`, { cacheDir });
    expect(unchecked).toEqual({ path: path.join(cacheDir, "stories260K.gguf"), sha256: modelSha256, downloaded: true, checkedAgainst: undefined });
    // Already cached: the recorded digest is only compared when a hash is given.
    expect(await pullModel(`${baseUrl}/no-digest/stories260K.gguf`, { cacheDir })).toMatchObject({ downloaded: false, checkedAgainst: undefined });
  });

  it("mentions a partial file only when one was kept", async () => {
    const closed = http.createServer();
    await new Promise<void>((resolve) => closed.listen(0, "127.0.0.1", resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((resolve) => closed.close(resolve));
    const pull = pullModel(`http://127.0.0.1:${port}/stories260K.gguf`, { cacheDir, environment: { CLAWBOT_DOWNLOAD_RETRIES: "0" } });
    await expect(pull).rejects.toThrow(/failed after 1 attempt: fetch failed \(.*ECONNREFUSED.*\)$/);
    await expect(pull).rejects.not.toThrow(/partial/);
    expect(await cacheEntries()).toEqual([]);

    await expect(pullModel(`${baseUrl}/flaky/three/stories260K.gguf`, { cacheDir, retries: 0 })).rejects.toThrow(
      `(the partial file ${path.join(cacheDir, "stories260K.gguf.partial")} is kept; pulling again resumes it)`,
    );
  });

  it("does not retry a host name that does not resolve", async () => {
    let calls = 0;
    const fetchImplementation: typeof fetch = (input, init) => ((calls += 1), fetch(input, init));
    const pull = pullModel("http://clawbot-offline.invalid/stories260K.gguf", { cacheDir, fetchImplementation, retryDelayMs: 1 });
    await expect(pull).rejects.toThrow(/^Download of http:\/\/clawbot-offline\.invalid\/stories260K\.gguf failed: fetch failed \(getaddrinfo ENOTFOUND clawbot-offline\.invalid\)$/);
    expect(calls).toBe(1);
  });

  it("reads the retry count from CLAWBOT_DOWNLOAD_RETRIES and refuses a bad one", async () => {
    let calls = 0;
    const fetchImplementation: typeof fetch = () => ((calls += 1), Promise.reject(new TypeError("fetch failed")));
    const environment = { CLAWBOT_DOWNLOAD_RETRIES: "2" };
    await expect(pullModel(`${baseUrl}/files/stories260K.gguf`, { cacheDir, fetchImplementation, environment, retryDelayMs: 1 })).rejects.toThrow(/after 3 attempts/);
    expect(calls).toBe(3);
    await expect(pullModel(`${baseUrl}/files/stories260K.gguf`, { cacheDir, environment: { CLAWBOT_DOWNLOAD_RETRIES: "many" } })).rejects.toThrow(
      'CLAWBOT_DOWNLOAD_RETRIES: expected a whole number of retries (0 or more), got "many"',
    );
  });

  it("rejects an expected hash that is not 64 hex digits", async () => {
    await expect(pullModel(`${baseUrl}/files/stories260K.gguf`, { cacheDir, sha256: "xyz" })).rejects.toThrow(/not a SHA-256/);
  });

  it("stops on abort and keeps the partial file", async () => {
    const controller = new AbortController();
    const pull = pullModel(`${baseUrl}/files/stories260K.gguf`, {
      cacheDir,
      signal: controller.signal,
      onProgress: (received) => {
        if (received > 0) controller.abort();
      },
    });
    await expect(pull).rejects.toThrow(/abort/i);
    expect(await cacheEntries()).toEqual(["stories260K.gguf.partial"]);
  });
});
