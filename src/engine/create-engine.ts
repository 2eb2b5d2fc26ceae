// Builds the engine the agent config names.
import path from "node:path";
import type { AgentConfig, WatermarkConfig } from "../config/schema.js";
import type { Logger } from "../logging/logger.js";
import { EchoEngine } from "./echo/echo-engine.js";
import type { LanguageModel } from "./language-model.js";
import { createLlamaEngine } from "./llama/llama-engine.js";

export async function createEngine(
  agent: AgentConfig,
  options: {
    modelPath?: string;
    /** Directory relative agent paths (LoRA adapters) are resolved from: the config file's. */
    baseDir?: string;
    /** The resolved data directory (saved conversation states live under it). */
    dataDir?: string;
    logger: Logger;
    onLoadProgress?: (fraction: number) => void;
    /** The config's `watermark` (the llama engine biases sampling with it; the echo engine ignores it). */
    watermark?: WatermarkConfig;
  },
): Promise<LanguageModel> {
  switch (agent.engine) {
    case "echo":
      return new EchoEngine({ contextSize: agent.context_size, parallel: agent.parallel, maxQueue: agent.max_queue });
    case "llama": {
      if (!options.modelPath) throw new Error("agent.model_path is required for the llama engine");
      return createLlamaEngine({
        modelPath: options.modelPath,
        contextSize: agent.context_size,
        parallel: agent.parallel,
        threads: agent.threads,
        maxQueue: agent.max_queue,
        gpu: agent.gpu,
        gpuLayers: agent.gpu_layers,
        lora: agent.lora.map((adapter) => ({ ...adapter, path: path.resolve(options.baseDir ?? process.cwd(), adapter.path) })),
        contextReuse: agent.context_reuse,
        flashAttention: agent.flash_attention,
        savedStates:
          agent.persist_state && options.dataDir
            ? { directory: path.join(options.dataDir, "sequence-states"), maxBytes: agent.persist_state_max_mb * 1024 * 1024 }
            : undefined,
        logger: options.logger,
        onLoadProgress: options.onLoadProgress,
        watermark: watermarkSettings(options.watermark),
      });
    }
  }
}

/** The engine's watermark settings: none without a key (then a request that asks for a watermark is refused). */
function watermarkSettings(watermark: WatermarkConfig | undefined): { key: string; gamma: number; delta: number; enabled: boolean } | undefined {
  if (!watermark?.key) return undefined;
  return { key: watermark.key, gamma: watermark.gamma, delta: watermark.delta, enabled: watermark.enabled };
}
