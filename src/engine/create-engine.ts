// Builds the engine the agent config names.
import type { AgentConfig } from "../config/schema.js";
import type { Logger } from "../logging/logger.js";
import { EchoEngine } from "./echo/echo-engine.js";
import type { LanguageModel } from "./language-model.js";
import { createLlamaEngine } from "./llama/llama-engine.js";

export async function createEngine(
  agent: AgentConfig,
  options: { modelPath?: string; logger: Logger; onLoadProgress?: (fraction: number) => void },
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
        contextReuse: agent.context_reuse,
        logger: options.logger,
        onLoadProgress: options.onLoadProgress,
      });
    }
  }
}
