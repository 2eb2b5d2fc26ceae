// End to end, the real CLI: an offline first start says what is true and the ways forward; models pull says what its
// digest was checked against; models import/list/show/rm; cached names work with --model and agent.model_path.
import fs from "node:fs";
import http from "node:http";
import type { AddressInfo } from "node:net";
import path from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import YAML from "yaml";
import { issueToken } from "../src/security/jwt-issuer.js";
import { freePort, killAll, removeTempDirs, runCli, sandboxEnv, spawnCli, tempDir, waitUntilReady } from "./helpers/cli-process.js";
import { testModelPath, testModelSha256 } from "./helpers/test-model.js";

let modelPath: string;

beforeAll(async () => {
  modelPath = await testModelPath();
});

afterEach(async () => {
  await killAll();
});

afterAll(async () => {
  await killAll();
  removeTempDirs();
});

/** A port nothing listens on. */
async function closedPort(): Promise<number> {
  return freePort();
}

/** Every way forward the offline message must name. */
function expectWaysForward(stderr: string): void {
  expect(stderr).toContain("clawbot start --model ./file.gguf");
  expect(stderr).toContain("clawbot models import ./file.gguf");
  expect(stderr).toContain("CLAWBOT_DEFAULT_MODEL=./file.gguf clawbot start");
  expect(stderr).toContain("CLAWBOT_HF_ENDPOINT=https://your-mirror.example clawbot start");
}

describe("clawbot start offline, with no model", () => {
  it("says the download failed without claiming a partial file, and prints the ways forward (endpoint: a closed port)", async () => {
    const root = tempDir();
    const port = await closedPort();
    const env = sandboxEnv(root, { CLAWBOT_HF_ENDPOINT: `http://127.0.0.1:${port}`, CLAWBOT_DOWNLOAD_RETRIES: "0" });
    const result = await runCli(["start", "--port", String(await freePort())], { cwd: root, env });
    expect(result.code, result.stderr).toBe(1);
    expect(result.stderr).toMatch(
      new RegExp(`Download of http://127\\.0\\.0\\.1:${port}/Qwen/Qwen2\\.5-0\\.5B-Instruct-GGUF/resolve/main/qwen2\\.5-0\\.5b-instruct-q4_k_m\\.gguf failed after 1 attempt: fetch failed \\(.*ECONNREFUSED`),
    );
    expect(result.stderr).not.toContain(".partial");
    expectWaysForward(result.stderr);
    expect(result.stderr).toContain("clawbot models import ./qwen2.5-0.5b-instruct-q4_k_m.gguf, then clawbot start");
    expect(result.stderr).toContain(`The model cache (${path.join(root, "models-cache")}) holds no models.`);
    expect(result.stderr).toMatch(/^Config: none \(no --config and no \.\/clawbot\.yaml here\): built-in defaults/m);
    expect(result.stderr).not.toMatch(/^\s+at /m);
    expect(fs.readdirSync(path.join(root, "models-cache"))).toEqual([]);
    expect(result.stdout).not.toContain("Clawbot is ready");
  });

  it("fails at once on a host name that does not resolve, and names the models already cached", async () => {
    const root = tempDir();
    const env = sandboxEnv(root, { CLAWBOT_HF_ENDPOINT: "http://clawbot-offline.invalid" });
    const imported = await runCli(["models", "import", modelPath], { cwd: root, env });
    expect(imported.code, imported.stderr).toBe(0);
    // ENOTFOUND is not retried (the unit tests count the attempts): "failed:", not "failed after 4 attempts:".
    const result = await runCli(["start", "--port", String(await freePort())], { cwd: root, env });
    expect(result.code, result.stderr).toBe(1);
    expect(result.stderr).toContain("failed: fetch failed (getaddrinfo ENOTFOUND clawbot-offline.invalid)");
    expect(result.stderr).not.toContain(".partial");
    expectWaysForward(result.stderr);
    expect(result.stderr).toContain(`Models already in the cache (${path.join(root, "models-cache")}), usable with --model: stories260K.gguf`);
  });
});

describe("clawbot models pull: what the digest was checked against", () => {
  let server: http.Server;
  let baseUrl: string;

  beforeAll(async () => {
    const bytes = await fs.promises.readFile(modelPath);
    server = http.createServer((request, response) => {
      const headers: http.OutgoingHttpHeaders = { "content-length": bytes.length };
      if (request.url === "/linked/stories260K.gguf") headers["x-linked-etag"] = `"${testModelSha256}"`;
      if (request.url === "/etag/stories260K.gguf") headers.etag = `"${testModelSha256}"`;
      response.writeHead(200, headers).end(bytes);
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  async function pull(urlPath: string, ...extra: string[]): Promise<{ code: number | null; stdout: string; stderr: string; cache: string }> {
    const root = tempDir();
    const result = await runCli(["models", "pull", `${baseUrl}${urlPath}`, ...extra], { cwd: root, env: sandboxEnv(root) });
    return { ...result, cache: path.join(root, "models-cache") };
  }

  it("without --sha256 and without a published digest: the computed digest, said to be checked against nothing", async () => {
    const result = await pull("/plain/stories260K.gguf");
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toBe(`${path.join(result.cache, "stories260K.gguf")}\n`);
    expect(result.stderr).toContain(`SHA-256 ${testModelSha256} (computed from the download; not checked against anything`);
    expect(result.stderr).not.toContain("Verified");
  });

  it("with X-Linked-Etag, ETag or --sha256: Verified, naming what it matched", async () => {
    for (const urlPath of ["/linked/stories260K.gguf", "/etag/stories260K.gguf"]) {
      const result = await pull(urlPath);
      expect(result.code, result.stderr).toBe(0);
      expect(result.stderr).toContain(`Verified SHA-256 ${testModelSha256} (matches the digest the server published)`);
    }
    const given = await pull("/plain/stories260K.gguf", "--sha256", testModelSha256);
    expect(given.stderr).toContain(`Verified SHA-256 ${testModelSha256} (matches --sha256)`);
    const wrong = await pull("/plain/stories260K.gguf", "--sha256", "00".repeat(32));
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toContain("SHA-256 mismatch");
  });
});

describe("clawbot models import, list, show, rm and cached names", () => {
  let root: string;
  let env: NodeJS.ProcessEnv;
  let cache: string;
  let source: string;

  beforeAll(() => {
    root = tempDir();
    env = sandboxEnv(root);
    cache = path.join(root, "models-cache");
    source = path.join(root, "downloads", "story.gguf");
    fs.mkdirSync(path.dirname(source));
    fs.copyFileSync(modelPath, source);
  });

  it("imports a file as a hard link with its digest recorded, lists it and shows its header", async () => {
    const imported = await runCli(["models", "import", source], { cwd: root, env });
    expect(imported.code, imported.stderr).toBe(0);
    expect(imported.stdout).toBe(`${path.join(cache, "story.gguf")}\n`);
    expect(imported.stderr).toContain(`Imported ${source} as a hard link`);
    expect(imported.stderr).toContain(`SHA-256 ${testModelSha256} (computed from the file, not checked against anything; recorded in the cache)`);
    expect(imported.stderr).toContain("Use it: clawbot start --model story.gguf");

    const listed = await runCli(["models", "list"], { cwd: root, env });
    expect(listed.stdout).toMatch(new RegExp(`^story\\.gguf\\s+1\\.13 MiB\\s+${testModelSha256}$`, "m"));

    const shown = await runCli(["models", "show", "story"], { cwd: root, env });
    expect(shown.code, shown.stderr).toBe(0);
    expect(shown.stdout).toMatch(/^architecture\s+llama$/m);
    expect(shown.stdout).toMatch(/^parameters\s+\d+\.\dK$/m);
    expect(shown.stdout).toMatch(/^quantization\s+F32 /m);
    expect(shown.stdout).toMatch(/^context length\s+2048 tokens \(trained\)$/m);
    expect(shown.stdout).toMatch(/^chat template\s+no/m);
    expect(shown.stdout).toMatch(new RegExp(`^sha256\\s+${testModelSha256}$`, "m"));
    expect(shown.stdout).toMatch(/^size\s+1\.13 MiB \(1185376 bytes\)$/m);
  });

  it("starts a cached model by its name without .gguf (--model)", async () => {
    const port = await freePort();
    const node = spawnCli(["start", "--model", "story", "--port", String(port)], { cwd: root, env });
    const ready = await waitUntilReady(node);
    expect(node.stdout()).toContain("Clawbot is ready: model story (llama");
    const answer = await fetch(`${ready.httpUrl}/chat/completions`, {
      method: "POST",
      headers: { authorization: `Bearer ${ready.token}`, "content-type": "application/json" },
      body: JSON.stringify({ messages: [{ role: "user", content: "Once upon a time" }], max_tokens: 8, temperature: 0 }),
    });
    expect(answer.status).toBe(200);
    node.child.kill("SIGTERM");
    expect((await node.exited).code).toBe(0);
  });

  it("starts a cached model named by agent.model_path", async () => {
    const project = path.join(root, "project");
    fs.mkdirSync(project);
    const secret = "a-config-secret-that-is-long-enough-0123456789";
    const port = await freePort();
    fs.writeFileSync(
      path.join(project, "clawbot.yaml"),
      YAML.stringify({ agent: { model_path: "story.gguf", data_dir: "./data" }, gateways: [{ type: "http", port, auth: { type: "jwt", secret } }] }),
    );
    const node = spawnCli(["start"], { cwd: project, env });
    await waitUntilReady(node);
    expect(node.stdout()).toContain("Clawbot is ready: model story (llama");
    const models = await fetch(`http://127.0.0.1:${port}/v1/models`, { headers: { authorization: `Bearer ${await issueToken({ secret, subject: "a", ttl: "5m" })}` } });
    expect(models.status).toBe(200);
    node.child.kill("SIGTERM");
    expect((await node.exited).code).toBe(0);
  });

  it("removes a model by name, leaving the imported original, and names the cache when nothing matches", async () => {
    const removed = await runCli(["models", "rm", "story"], { cwd: root, env });
    expect(removed.code, removed.stderr).toBe(0);
    expect(removed.stderr).toContain(`Removed ${path.join(cache, "story.gguf")}`);
    expect(fs.readdirSync(cache)).toEqual([]);
    expect(fs.existsSync(source)).toBe(true);
    const again = await runCli(["models", "rm", "story"], { cwd: root, env });
    expect(again.code).toBe(1);
    expect(again.stderr).toContain(`clawbot models rm: no model named story in ${cache} (the cache is empty)`);
  });
});

describe("models pull of local files, and unknown names", () => {
  it("models pull of a local path or file:// URL imports it; an unknown name lists the cached ones", async () => {
    const root = tempDir();
    const env = sandboxEnv(root);
    const cache = path.join(root, "models-cache");
    fs.copyFileSync(modelPath, path.join(root, "first.gguf"));
    fs.copyFileSync(modelPath, path.join(root, "second.gguf"));

    const byPath = await runCli(["models", "pull", "./first.gguf"], { cwd: root, env });
    expect(byPath.code, byPath.stderr).toBe(0);
    expect(byPath.stdout).toBe(`${path.join(cache, "first.gguf")}\n`);
    const byUrl = await runCli(["models", "pull", `file://${path.join(root, "second.gguf")}`], { cwd: root, env });
    expect(byUrl.code, byUrl.stderr).toBe(0);
    const listed = await runCli(["models", "list"], { cwd: root, env });
    expect(listed.stdout.trim().split("\n").slice(1).map((line) => line.split(/\s+/)[0])).toEqual(["first.gguf", "second.gguf"]);

    fs.writeFileSync(path.join(root, "text.gguf"), "hello");
    const notGguf = await runCli(["models", "import", "text.gguf"], { cwd: root, env });
    expect(notGguf.code).toBe(1);
    expect(notGguf.stderr).toContain(`clawbot models import: Model file ${path.join(root, "text.gguf")} is not a GGUF file (bad magic bytes)`);

    const unknown = await runCli(["start", "--model", "third", "--port", String(await freePort())], { cwd: root, env });
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain(`Model "third": no file ${path.join(root, "third")} and no model of that name in the cache ${cache} (cached models: first.gguf, second.gguf;`);
    const show = await runCli(["models", "show", "third"], { cwd: root, env });
    expect(show.code).toBe(1);
    expect(show.stderr).toContain('clawbot models show: Model "third": no file');
  });
});
