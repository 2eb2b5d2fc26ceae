// `clawbot models pull|import|list|show|rm`: the local model cache (downloads resumable and SHA-256 checked).
import type { Command } from "commander";
import { defaultModelSha256, defaultModelSpec, modelCacheDir } from "../models/default-model.js";
import { listCachedModels } from "../models/model-cache.js";
import { pullModel } from "../models/model-downloader.js";
import { parseModelSpec } from "../models/model-source.js";
import { digestLine } from "./digest-line.js";
import { importAction, removeAction, showAction } from "./models-manage.js";
import { createProgressBar, formatBytes } from "./progress-bar.js";

const dirHelp = "model cache directory (default: CLAWBOT_MODELS, $XDG_CACHE_HOME/clawbot/models or ~/.cache/clawbot/models)";

/** Runs a subcommand's action; a failure is one line on stderr and exit code 1. */
function guarded<Arguments extends unknown[]>(name: string, action: (...args: Arguments) => Promise<void>): (...args: Arguments) => Promise<void> {
  return async (...args: Arguments) => {
    try {
      await action(...args);
    } catch (error) {
      process.stderr.write(`clawbot models ${name}: ${(error as Error).message}\n`);
      process.exitCode = 1;
    }
  };
}

export function registerModelsCommand(program: Command): void {
  const models = program.command("models").description("Download, import, list, show and remove GGUF models in the local model cache.");

  models
    .command("pull")
    .description("Download a model (http(s) URL or hf:<owner>/<repo>/<file.gguf>[@revision]) into the cache; a local path is imported. Prints its path.")
    .argument("[spec]", "model to pull; the default model (CLAWBOT_DEFAULT_MODEL or Qwen2.5-0.5B-Instruct Q4_K_M) if omitted")
    .option("--sha256 <hex>", "expected SHA-256 of the file (otherwise the server's X-Linked-Etag/ETag is used when it publishes one)")
    .option("--dir <cacheDir>", dirHelp)
    .action(async (spec: string | undefined, options: { sha256?: string; dir?: string }) => {
      const chosen = spec ?? defaultModelSpec();
      const pinned = options.sha256 === undefined && spec === undefined ? defaultModelSha256() : undefined;
      // A local file (a path or file:// URL) is put into the cache like `models import` does.
      const source = parseModelSpec(chosen);
      if (source.kind === "path") return guarded("pull", importAction)(source.path, options);
      const progress = createProgressBar(`Downloading ${chosen}`, { unit: "bytes" });
      const controller = new AbortController();
      const interrupt = (): void => controller.abort();
      process.once("SIGINT", interrupt);
      try {
        const result = await pullModel(chosen, {
          cacheDir: options.dir ?? modelCacheDir(),
          sha256: options.sha256 ?? pinned,
          signal: controller.signal,
          onProgress: (received, total) => progress.update(received, total),
        });
        progress.stop();
        process.stderr.write(`${digestLine(result, pinned !== undefined ? "the pinned hash of the default model" : "--sha256")}\n`);
        process.stdout.write(`${result.path}\n`);
      } catch (error) {
        progress.stop();
        const message = controller.signal.aborted ? "interrupted; pull again to resume" : (error as Error).message;
        process.stderr.write(`clawbot models pull: ${message}\n`);
        process.exitCode = controller.signal.aborted ? 130 : 1;
      } finally {
        process.removeListener("SIGINT", interrupt);
      }
    });

  models
    .command("import")
    .description("Put a local GGUF file into the cache (hard link on the same filesystem, else a copy) and record its SHA-256. Prints its path.")
    .argument("<file>", "the .gguf file")
    .option("--name <name>", "its name in the cache (default: the file name)")
    .option("--sha256 <hex>", "refuse the file unless it has this SHA-256")
    .option("--force", "replace a different model cached under the same name")
    .option("--dir <cacheDir>", dirHelp)
    .action(guarded("import", importAction));

  models
    .command("list")
    .description("List the models in the cache: the names `clawbot start --model` and agent.model_path accept.")
    .option("--dir <cacheDir>", dirHelp)
    .action(async (options: { dir?: string }) => {
      const cacheDir = options.dir ?? modelCacheDir();
      const cached = await listCachedModels(cacheDir);
      if (cached.length === 0) {
        process.stderr.write(`No models in ${cacheDir} (add one with clawbot models pull <url|hf:…> or clawbot models import <file.gguf>)\n`);
        return;
      }
      const rows = cached.map((model) => [
        model.fileName,
        formatBytes(model.size),
        model.partial ? "(incomplete download)" : (model.sha256 ?? "(not recorded)"),
      ]);
      const header = ["FILE", "SIZE", "SHA256"];
      const widths = header.map((title, column) => Math.max(title.length, ...rows.map((row) => row[column]!.length)));
      const format = (row: string[]): string => row.map((cell, column) => (column < row.length - 1 ? cell.padEnd(widths[column]!) : cell)).join("  ");
      process.stdout.write([format(header), ...rows.map(format)].join("\n") + "\n");
      process.stderr.write(`Use one: clawbot start --model <FILE> (or agent.model_path: <FILE>); the .gguf may be left out. Cache: ${cacheDir}\n`);
    });

  models
    .command("show")
    .description("Show a model's architecture, parameters, quantization, context length, chat template, digest and size (without loading it).")
    .argument("<name>", "a name from `clawbot models list`, or a path to a .gguf file")
    .option("--dir <cacheDir>", dirHelp)
    .action(guarded("show", showAction));

  models
    .command("rm")
    .description("Remove a model (and its recorded digest) from the cache.")
    .argument("<name>", "a name from `clawbot models list`")
    .option("--dir <cacheDir>", dirHelp)
    .action(guarded("rm", removeAction));
}
