// The actions of `clawbot models import`, `show` and `rm`.
import fs from "node:fs";
import path from "node:path";
import { modelCacheDir } from "../models/default-model.js";
import { listCachedModels, readSidecar, sha256OfFile, sidecarPath } from "../models/model-cache.js";
import { importModel } from "../models/model-import.js";
import { formatParameterCount, readModelInfo } from "../models/model-info.js";
import { resolveModel } from "../models/model-resolver.js";
import { formatBytes } from "./progress-bar.js";

interface CacheOptions {
  dir?: string;
}

export async function importAction(file: string, options: CacheOptions & { name?: string; sha256?: string; force?: boolean }): Promise<void> {
  const result = await importModel(file, { cacheDir: options.dir ?? modelCacheDir(), name: options.name, sha256: options.sha256, force: options.force });
  const how = {
    linked: "as a hard link (no extra space; the cache entry and the original are the same bytes)",
    copied: "as a copy",
    present: "already in the cache; nothing copied",
  }[result.method];
  const checked = options.sha256 !== undefined ? "matches --sha256" : "computed from the file, not checked against anything";
  const name = path.basename(result.path);
  process.stderr.write(
    `Imported ${path.resolve(file)} ${how}. SHA-256 ${result.sha256} (${checked}; recorded in the cache).\n` +
      `Use it: clawbot start --model ${name} (or agent.model_path: ${name})\n`,
  );
  process.stdout.write(`${result.path}\n`);
}

export async function showAction(name: string, options: CacheOptions): Promise<void> {
  const location = await resolveModel(name, { baseDir: process.cwd(), cacheDir: options.dir ?? modelCacheDir() });
  if (location.kind !== "file") throw new Error(`${name} is not on this machine; pull it first (clawbot models pull ${name})`);
  const info = await readModelInfo(location.path);
  const recorded = await readSidecar(location.path);
  const digest = recorded ?? `${await sha256OfFile(location.path)} (computed now; none recorded)`;
  const rows: [string, string][] = [
    ["file", location.path],
    ["architecture", info.architecture],
    ...(info.name !== undefined ? ([["name", info.name]] as [string, string][]) : []),
    ["parameters", formatParameterCount(info.parameters)],
    ["quantization", info.quantization],
    ["context length", info.contextLength !== undefined ? `${info.contextLength} tokens (trained)` : "not stated in the file"],
    ["chat template", info.chatTemplate ? "yes" : "no (prompts use a plain text layout)"],
    ["sha256", digest],
    ["size", `${formatBytes(info.size)} (${info.size} bytes)`],
  ];
  const width = Math.max(...rows.map(([key]) => key.length));
  process.stdout.write(rows.map(([key, value]) => `${key.padEnd(width)}  ${value}`).join("\n") + "\n");
}

export async function removeAction(name: string, options: CacheOptions): Promise<void> {
  const cacheDir = options.dir ?? modelCacheDir();
  const cached = await listCachedModels(cacheDir);
  const wanted = name.toLowerCase().endsWith(".gguf") ? [name] : [name, `${name}.gguf`];
  const model = cached.find((entry) => wanted.includes(entry.fileName));
  if (model === undefined) {
    const names = cached.map((entry) => entry.fileName);
    throw new Error(`no model named ${name} in ${cacheDir} (${names.length > 0 ? `cached: ${names.join(", ")}` : "the cache is empty"})`);
  }
  await fs.promises.rm(model.path, { force: true });
  await fs.promises.rm(sidecarPath(model.path), { force: true });
  process.stderr.write(`Removed ${model.path} (${formatBytes(model.size)})\n`);
}
