// Tests for resolveModel: existing paths first, then cached models by name (with or without .gguf), downloads, errors.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { builtInDefaultModelSha256, builtInDefaultModelSpec } from "./default-model.js";
import { ModelNotFoundError, resolveModel } from "./model-resolver.js";

let root: string;
let cacheDir: string;
let baseDir: string;

beforeEach(async () => {
  root = await fs.promises.mkdtemp(path.join(os.tmpdir(), "clawbot-resolve-"));
  cacheDir = path.join(root, "cache");
  baseDir = path.join(root, "project");
  await fs.promises.mkdir(cacheDir);
  await fs.promises.mkdir(baseDir);
  await fs.promises.writeFile(path.join(cacheDir, "tiny.gguf"), "GGUF");
  await fs.promises.writeFile(path.join(cacheDir, "bare-name"), "GGUF");
  await fs.promises.writeFile(path.join(cacheDir, "half.gguf.partial"), "GG");
});

afterEach(async () => {
  await fs.promises.rm(root, { recursive: true, force: true });
});

describe("resolveModel", () => {
  const environment = { HOME: "/home/tester" };

  it("finds a cached model by the name models list shows, with or without .gguf", async () => {
    const options = { baseDir, cacheDir, environment };
    const cached = { kind: "file", path: path.join(cacheDir, "tiny.gguf"), cached: true };
    expect(await resolveModel("tiny.gguf", options)).toEqual(cached);
    expect(await resolveModel("tiny", options)).toEqual(cached);
    expect(await resolveModel("bare-name.gguf", options)).toEqual({ kind: "file", path: path.join(cacheDir, "bare-name"), cached: true });
  });

  it("takes an existing path first, relative to baseDir", async () => {
    await fs.promises.writeFile(path.join(baseDir, "tiny.gguf"), "GGUF");
    await fs.promises.mkdir(path.join(baseDir, "models"));
    await fs.promises.writeFile(path.join(baseDir, "models", "other.gguf"), "GGUF");
    const options = { baseDir, cacheDir, environment };
    expect(await resolveModel("tiny.gguf", options)).toEqual({ kind: "file", path: path.join(baseDir, "tiny.gguf"), cached: false });
    expect(await resolveModel("./models/other.gguf", options)).toEqual({ kind: "file", path: path.join(baseDir, "models", "other.gguf"), cached: false });
    const absolute = path.join(cacheDir, "tiny.gguf");
    expect(await resolveModel(absolute, options)).toEqual({ kind: "file", path: absolute, cached: false });
    expect(await resolveModel(`file://${absolute}`, options)).toEqual({ kind: "file", path: absolute, cached: false });
  });

  it("does not look in the cache for a path with a directory part, nor for an incomplete download", async () => {
    const options = { baseDir, cacheDir, environment };
    await expect(resolveModel("./tiny.gguf", options)).rejects.toThrow(`Model "./tiny.gguf": no such file ${path.join(baseDir, "tiny.gguf")}`);
    await expect(resolveModel("half", options)).rejects.toThrow(ModelNotFoundError);
  });

  it("names the cached models when a name matches none", async () => {
    const error = await resolveModel("qwen", { baseDir, cacheDir, environment }).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(ModelNotFoundError);
    expect((error as Error).message).toBe(
      `Model "qwen": no file ${path.join(baseDir, "qwen")} and no model of that name in the cache ${cacheDir} ` +
        "(cached models: bare-name, tiny.gguf; see clawbot models list, or add a file with clawbot models import <file.gguf>)",
    );
    const empty = path.join(root, "empty-cache");
    await expect(resolveModel("qwen", { baseDir, cacheDir: empty, environment })).rejects.toThrow("(the cache holds no models;");
  });

  it("leaves URLs and hf: URIs to the downloader; the built-in default carries its pinned hash", async () => {
    const options = { baseDir, cacheDir, environment };
    expect(await resolveModel("https://example.org/m.gguf", options)).toEqual({ kind: "download", spec: "https://example.org/m.gguf", sha256: undefined, isDefault: false });
    expect(await resolveModel(undefined, options)).toEqual({ kind: "download", spec: builtInDefaultModelSpec, sha256: builtInDefaultModelSha256, isDefault: true });
    const custom = { ...options, environment: { CLAWBOT_DEFAULT_MODEL: "hf:o/r/f.gguf" } };
    expect(await resolveModel(undefined, custom)).toEqual({ kind: "download", spec: "hf:o/r/f.gguf", sha256: undefined, isDefault: true });
  });

  it("resolves CLAWBOT_DEFAULT_MODEL as a path or a cached name too", async () => {
    expect(await resolveModel(undefined, { baseDir, cacheDir, environment: { CLAWBOT_DEFAULT_MODEL: "tiny" } })).toMatchObject({ kind: "file", cached: true });
    await expect(resolveModel(undefined, { baseDir, cacheDir, environment: { CLAWBOT_DEFAULT_MODEL: "/nowhere/m.gguf" } })).rejects.toThrow(
      "CLAWBOT_DEFAULT_MODEL /nowhere/m.gguf: no such file /nowhere/m.gguf",
    );
  });
});
