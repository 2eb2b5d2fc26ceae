// Tests for importModel (link or copy into the cache, GGUF check, recorded digest) and readModelInfo on real GGUF files.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { copyGgufWithMetadata } from "../../test/helpers/gguf-file.js";
import { testModelPath, testModelSha256 } from "../../test/helpers/test-model.js";
import { listCachedModels } from "./model-cache.js";
import { ChecksumMismatchError } from "./model-downloader.js";
import { importModel } from "./model-import.js";
import { formatParameterCount, readModelInfo } from "./model-info.js";

let modelPath: string;
let root: string;
let cacheDir: string;

beforeAll(async () => {
  modelPath = await testModelPath();
});

beforeEach(async () => {
  root = await fs.promises.mkdtemp(path.join(os.tmpdir(), "clawbot-import-"));
  cacheDir = path.join(root, "cache");
});

afterEach(async () => {
  await fs.promises.rm(root, { recursive: true, force: true });
});

/** A copy of the test model in the temporary root, on the same filesystem as the cache. */
async function localCopy(name = "story.gguf"): Promise<string> {
  const file = path.join(root, name);
  await fs.promises.copyFile(modelPath, file);
  return file;
}

describe("importModel", () => {
  it("hard-links a file on the same filesystem and records its SHA-256 like a pulled model", async () => {
    const file = await localCopy();
    const result = await importModel(file, { cacheDir });
    expect(result).toEqual({ path: path.join(cacheDir, "story.gguf"), sha256: testModelSha256, method: "linked" });
    expect((await fs.promises.stat(result.path)).ino).toBe((await fs.promises.stat(file)).ino);
    expect(await fs.promises.readFile(`${result.path}.sha256`, "utf8")).toBe(`${testModelSha256}  story.gguf\n`);
    expect(await listCachedModels(cacheDir)).toMatchObject([{ fileName: "story.gguf", sha256: testModelSha256, partial: false }]);
    expect((await fs.promises.readdir(cacheDir)).sort()).toEqual(["story.gguf", "story.gguf.sha256"]);
  });

  it("takes another name, and does nothing when the same model is already there", async () => {
    const file = await localCopy();
    expect(await importModel(file, { cacheDir, name: "renamed.gguf", sha256: testModelSha256.toUpperCase() })).toMatchObject({ method: "linked" });
    const other = await localCopy("other.gguf");
    expect(await importModel(other, { cacheDir, name: "renamed.gguf" })).toEqual({ path: path.join(cacheDir, "renamed.gguf"), sha256: testModelSha256, method: "present" });
  });

  it("refuses to replace a different cached model unless forced", async () => {
    const file = await localCopy();
    await importModel(file, { cacheDir });
    const changed = path.join(root, "changed", "story.gguf");
    await fs.promises.mkdir(path.dirname(changed));
    copyGgufWithMetadata(modelPath, changed, { "general.name": "changed" });
    await expect(importModel(changed, { cacheDir })).rejects.toThrow("A different model named story.gguf is already in the cache");
    const forced = await importModel(changed, { cacheDir, force: true });
    expect(forced.sha256).not.toBe(testModelSha256);
    expect(await fs.promises.readFile(`${forced.path}.sha256`, "utf8")).toContain(forced.sha256);
  });

  it("refuses a file that is not GGUF, a missing file, a wrong hash and a bad name, leaving the cache clean", async () => {
    const text = path.join(root, "notes.gguf");
    await fs.promises.writeFile(text, "not a model at all");
    await expect(importModel(text, { cacheDir })).rejects.toThrow(`Model file ${text} is not a GGUF file (bad magic bytes)`);
    await expect(importModel(path.join(root, "absent.gguf"), { cacheDir })).rejects.toThrow(/absent\.gguf: no such file/);
    const file = await localCopy();
    await expect(importModel(file, { cacheDir, sha256: "00".repeat(32) })).rejects.toThrow(ChecksumMismatchError);
    await expect(importModel(file, { cacheDir, name: "../escape.gguf" })).rejects.toThrow('"../escape.gguf" cannot be a model name');
    expect(await listCachedModels(cacheDir)).toEqual([]);
    expect(fs.existsSync(path.join(root, "escape.gguf"))).toBe(false);
  });
});

describe("readModelInfo", () => {
  it("reads architecture, parameters, type, context length and the chat template from the header", async () => {
    const info = await readModelInfo(modelPath);
    expect(info).toMatchObject({ architecture: "llama", name: "llama", contextLength: 2048, chatTemplate: false, size: fs.statSync(modelPath).size });
    expect(info.quantization).toBe("F32 (most weights; the file does not name its type)");
    // All F32: the tensors' elements are the file's data bytes / 4.
    expect(info.parameters * 4).toBeLessThan(info.size);
    expect(info.parameters * 4).toBeGreaterThan(info.size * 0.9);

    const templated = path.join(root, "templated.gguf");
    copyGgufWithMetadata(modelPath, templated, {
      "tokenizer.chat_template": "{% for message in messages %}{{ message.content }}{% endfor %}",
      "general.file_type": { type: "uint32", value: 15 },
    });
    expect(await readModelInfo(templated)).toMatchObject({ chatTemplate: true, quantization: "Q4_K_M", parameters: info.parameters });
  });

  it("formats parameter counts", () => {
    expect(formatParameterCount(494_032_768)).toBe("494.0M");
    expect(formatParameterCount(7_241_732_096)).toBe("7.2B");
    expect(formatParameterCount(292_000)).toBe("292.0K");
    expect(formatParameterCount(12)).toBe("12");
  });
});
