// `clawbot models pull|list`: download a model into the cache (resumable, SHA-256 checked) and show what is cached.
import type { Command } from "commander";
import { defaultModelSha256, defaultModelSpec, modelCacheDir } from "../models/default-model.js";
import { listCachedModels } from "../models/model-cache.js";
import { pullModel } from "../models/model-downloader.js";
import { createProgressBar, formatBytes } from "./progress-bar.js";

export function registerModelsCommand(program: Command): void {
  const models = program.command("models").description("Download and list GGUF models in the local model cache.");

  models
    .command("pull")
    .description("Download a model (path, http(s) URL or hf:<owner>/<repo>/<file.gguf>[@revision]); prints its path.")
    .argument("[spec]", "model to pull; the default model (CLAWBOT_DEFAULT_MODEL or Qwen2.5-0.5B-Instruct Q4_K_M) if omitted")
    .option("--sha256 <hex>", "expected SHA-256 of the file (otherwise the server's X-Linked-Etag/ETag is used)")
    .option("--dir <cacheDir>", "model cache directory (default: CLAWBOT_MODELS, $XDG_CACHE_HOME/clawbot/models or ~/.cache/clawbot/models)")
    .action(async (spec: string | undefined, options: { sha256?: string; dir?: string }) => {
      const chosen = spec ?? defaultModelSpec();
      const sha256 = options.sha256 ?? (spec === undefined ? defaultModelSha256() : undefined);
      const progress = createProgressBar(`Downloading ${chosen}`, { unit: "bytes" });
      const controller = new AbortController();
      const interrupt = (): void => controller.abort();
      process.once("SIGINT", interrupt);
      try {
        const result = await pullModel(chosen, {
          cacheDir: options.dir ?? modelCacheDir(),
          sha256,
          signal: controller.signal,
          onProgress: (received, total) => progress.update(received, total),
        });
        progress.stop();
        if (result.downloaded) process.stderr.write(`Verified SHA-256 ${result.sha256}\n`);
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
    .command("list")
    .description("List the models in the cache with their size and recorded SHA-256.")
    .option("--dir <cacheDir>", "model cache directory (default: CLAWBOT_MODELS, $XDG_CACHE_HOME/clawbot/models or ~/.cache/clawbot/models)")
    .action(async (options: { dir?: string }) => {
      const cacheDir = options.dir ?? modelCacheDir();
      const cached = await listCachedModels(cacheDir);
      if (cached.length === 0) {
        process.stderr.write(`No models in ${cacheDir}\n`);
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
    });
}
