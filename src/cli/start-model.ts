// The model `clawbot start` loads: --model or agent.model_path resolved (path, cached name, download), with a way
// forward when it cannot be had (offline, no file).
import path from "node:path";
import { builtInDefaultModelSize, modelCacheDir } from "../models/default-model.js";
import { listCachedModels } from "../models/model-cache.js";
import { pullModel } from "../models/model-downloader.js";
import { resolveModel } from "../models/model-resolver.js";
import { parseModelSpec } from "../models/model-source.js";
import { digestLine } from "./digest-line.js";
import { createProgressBar, formatBytes } from "./progress-bar.js";

/**
 * The --model flag (relative to the working directory) wins over agent.model_path (relative to the config file);
 * with neither, the default model (CLAWBOT_DEFAULT_MODEL or the built-in one) is used, downloaded once.
 */
export async function modelForStart(
  flag: string | undefined,
  modelPath: string | undefined,
  baseDir: string,
  environment: NodeJS.ProcessEnv,
): Promise<string> {
  const cacheDir = modelCacheDir(environment);
  const location =
    flag !== undefined
      ? await resolveModel(flag, { baseDir: process.cwd(), cacheDir, environment })
      : await resolveModel(modelPath, { baseDir, cacheDir, environment });
  if (location.kind === "file") return location.path;
  const bar = createProgressBar(`Downloading ${location.spec}`, { unit: "bytes" });
  try {
    const result = await pullModel(location.spec, { cacheDir, sha256: location.sha256, environment, onProgress: (received, total) => bar.update(received, total) });
    bar.stop();
    if (result.downloaded) process.stderr.write(`${digestLine(result, "the pinned hash of the default model")}\n`);
    return result.path;
  } catch (error) {
    bar.stop();
    throw new Error(`${(error as Error).message}\n${await waysForward(location.spec, location.isDefault, cacheDir, environment)}`, { cause: error });
  }
}

/** What to do when a model cannot be downloaded: every way to run without the network. */
async function waysForward(spec: string, isDefault: boolean, cacheDir: string, environment: NodeJS.ProcessEnv): Promise<string> {
  const source = parseModelSpec(spec, environment);
  const fileName = source.kind === "path" ? path.basename(source.path) : source.fileName;
  const cached = (await listCachedModels(cacheDir)).filter((model) => !model.partial);
  const lines = [
    `The model ${fileName}${isDefault ? ` (the default model, ${formatBytes(builtInDefaultModelSize)})` : ""} could not be downloaded. Ways forward:`,
    `  - a GGUF file you have:          clawbot start --model ./file.gguf`,
    `  - put it in the model cache:     clawbot models import ./file.gguf   (then: clawbot start --model file.gguf)`,
    `  - another default model:         CLAWBOT_DEFAULT_MODEL=./file.gguf clawbot start   (a path, URL or hf: URI)`,
    `  - a Hugging Face mirror:         CLAWBOT_HF_ENDPOINT=https://your-mirror.example clawbot start`,
  ];
  if (isDefault) lines.push(`  - a copy of ${fileName} from another machine: clawbot models import ./${fileName}, then clawbot start`);
  lines.push(
    cached.length > 0
      ? `Models already in the cache (${cacheDir}), usable with --model: ${cached.map((model) => model.fileName).join(", ")}`
      : `The model cache (${cacheDir}) holds no models.`,
  );
  return lines.join("\n");
}
