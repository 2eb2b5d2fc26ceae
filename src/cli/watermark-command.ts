// `clawbot watermark detect`: reads a text on stdin and says whether it carries this node's watermark (z-score, verdict).
import type { Command } from "commander";

interface DetectOptions {
  config?: string;
  model?: string;
  json?: boolean;
}

/** Exit codes: 0 for either verdict; 2 for a usage error (no key, no model, unreadable input). */
const usageError = 2;

export function registerWatermarkCommand(program: Command): void {
  const watermark = program
    .command("watermark")
    .description("Detect the green-list watermark in a text (docs/security.md, Watermarking).")
    .exitOverride((error) => process.exit(error.exitCode === 0 ? 0 : usageError));
  watermark
    .command("detect")
    .description(
      "Read a text on stdin, tokenize it with the model's tokenizer and print the z-score, the tokens scored and the verdict: " +
        "`watermarked` (z ≥ 4) or `not watermarked`. Exit 0 either way; 2 on a usage error.",
    )
    .option("-c, --config <file>", "the node's clawbot.yaml: watermark.key, watermark.gamma, agent.model_path (default: ./clawbot.yaml)")
    .option("--model <path>", "the GGUF file whose tokenizer generated the text (default: agent.model_path of the config)")
    .option("--json", "print the result as one JSON object")
    .action(async (options: DetectOptions) => {
      try {
        await detect(options);
      } catch (error) {
        process.stderr.write(`clawbot watermark detect: ${(error as Error).message}\n`);
        process.exitCode = usageError;
      }
    });
}

async function detect(options: DetectOptions): Promise<void> {
  // Loaded here, not at the top: `clawbot --help` needs none of it.
  const fs = await import("node:fs");
  const { loadConfig } = await import("../config/load.js");
  const configPath = options.config ?? (fs.existsSync("clawbot.yaml") ? "clawbot.yaml" : undefined);
  if (!configPath) throw new Error("no config: pass --config clawbot.yaml (it holds watermark.key)");
  const { config, baseDir } = loadConfig({ configPath });
  const key = config.watermark.key;
  if (!key) throw new Error(`${configPath} has no watermark.key: the key the answers were watermarked with is needed to detect it`);
  const modelPath = await localModel(options.model, config.agent.model_path, baseDir);
  const text = await readStdin();
  const { WatermarkDetector } = await import("../engine/llama/watermark-detector.js");
  const detector = await WatermarkDetector.open(modelPath);
  try {
    const result = detector.detect(text, { key, gamma: config.watermark.gamma });
    const verdict = result.watermarked ? "watermarked" : "not watermarked";
    if (options.json) {
      process.stdout.write(`${JSON.stringify({ verdict, z: result.z, scored: result.scored, green: result.green, tokens: result.tokens, gamma: config.watermark.gamma })}\n`);
    } else {
      process.stdout.write(
        `z = ${result.z.toFixed(2)}  T = ${result.scored} (distinct token pairs of ${result.tokens} tokens), green = ${result.green}, gamma = ${config.watermark.gamma}\n` +
          `${verdict}\n`,
      );
    }
  } finally {
    await detector.close();
  }
}

/** --model (relative to the working directory) or agent.model_path (relative to the config); only a file on disk or in the cache. */
async function localModel(flag: string | undefined, configured: string | undefined, baseDir: string): Promise<string> {
  const { resolveModel } = await import("../models/model-resolver.js");
  const { modelCacheDir } = await import("../models/default-model.js");
  const location = await resolveModel(flag ?? configured, { baseDir: flag !== undefined ? process.cwd() : baseDir, cacheDir: modelCacheDir(process.env) });
  if (location.kind !== "file") throw new Error(`the model ${location.spec} is not on this machine: run \`clawbot models pull ${location.spec}\` or pass --model <file.gguf>`);
  return location.path;
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}
