// Where a model named by --model, agent.model_path or CLAWBOT_DEFAULT_MODEL comes from: a file, the cache, or a download.
import fs from "node:fs";
import path from "node:path";
import { defaultModelSha256, defaultModelSpec } from "./default-model.js";
import { listCachedModels } from "./model-cache.js";
import { parseModelSpec } from "./model-source.js";

export type ModelLocation =
  /** A GGUF file on disk; `cached` when it was found in the model cache by name. */
  | { kind: "file"; path: string; cached: boolean }
  /** A URL or hf: URI to pull into the cache (a cache hit needs no network); `sha256` is pinned for the built-in default. */
  | { kind: "download"; spec: string; sha256: string | undefined; isDefault: boolean };

export interface ResolveModelOptions {
  /** Relative paths resolve against this directory (the config file's for agent.model_path, the working directory for --model). */
  baseDir: string;
  cacheDir: string;
  environment?: NodeJS.ProcessEnv;
}

/** A model name or path that is neither an existing file nor a cached model. */
export class ModelNotFoundError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ModelNotFoundError";
  }
}

/**
 * Resolves a model spec; undefined means the default model (CLAWBOT_DEFAULT_MODEL or the built-in one).
 * Order: a URL or hf: URI is a download; an existing path (relative to `baseDir`; CLAWBOT_DEFAULT_MODEL's to the
 * working directory) is that file; a bare name
 * (no directory part) is looked up in the cache by file name, with and without `.gguf`; else ModelNotFoundError,
 * which lists the cached names.
 */
export async function resolveModel(spec: string | undefined, options: ResolveModelOptions): Promise<ModelLocation> {
  const environment = options.environment ?? process.env;
  const isDefault = spec === undefined || spec.trim() === "";
  const chosen = isDefault ? defaultModelSpec(environment) : spec.trim();
  const source = parseModelSpec(chosen, environment);
  if (source.kind !== "path") return { kind: "download", spec: chosen, sha256: isDefault ? defaultModelSha256(environment) : undefined, isDefault };

  // CLAWBOT_DEFAULT_MODEL is the user's shell's: relative to the working directory, not to a config file.
  const file = localPath(chosen, isDefault ? process.cwd() : options.baseDir, environment);
  if (fs.existsSync(file)) return { kind: "file", path: file, cached: false };
  const cached = await listCachedModels(options.cacheDir);
  const names = cached.filter((model) => !model.partial).map((model) => model.fileName);
  if (isBareName(chosen)) {
    const match = candidateNames(chosen).find((name) => names.includes(name));
    if (match !== undefined) return { kind: "file", path: path.join(options.cacheDir, match), cached: true };
  }
  throw new ModelNotFoundError(notFoundMessage(chosen, file, options.cacheDir, names, isDefault));
}

/** The names `clawbot models list` shows can be given as they are; `name` finds `name.gguf` and the other way round. */
function candidateNames(name: string): string[] {
  return name.toLowerCase().endsWith(".gguf") ? [name, name.slice(0, -".gguf".length)] : [name, `${name}.gguf`];
}

function isBareName(spec: string): boolean {
  return !/[/\\]/.test(spec) && spec !== "." && spec !== ".." && !spec.startsWith("~") && !spec.toLowerCase().startsWith("file:");
}

function localPath(spec: string, baseDir: string, environment: NodeJS.ProcessEnv): string {
  // file:// URLs and ~/ are absolute already (parseModelSpec expands them); other relative paths follow baseDir.
  const source = parseModelSpec(spec, environment);
  const absolute = spec.toLowerCase().startsWith("file://") || spec === "~" || spec.startsWith("~/") || path.isAbsolute(spec);
  return absolute && source.kind === "path" ? source.path : path.resolve(baseDir, spec);
}

function notFoundMessage(spec: string, file: string, cacheDir: string, names: string[], isDefault: boolean): string {
  const what = isDefault ? `CLAWBOT_DEFAULT_MODEL ${spec}` : `Model "${spec}"`;
  const where = isBareName(spec) ? `no file ${file} and no model of that name in the cache ${cacheDir}` : `no such file ${file}`;
  const cachedList = names.length > 0 ? `cached models: ${names.join(", ")}` : "the cache holds no models";
  return `${what}: ${where} (${cachedList}; see clawbot models list, or add a file with clawbot models import <file.gguf>)`;
}
