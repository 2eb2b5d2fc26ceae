// Starts llama.cpp on the configured compute backend (CPU, CUDA, Vulkan, Metal) and reports what it got.
import { getLlama, getLlamaGpuTypes, getModuleVersion, type Llama, LlamaLogLevel, type LlamaModel } from "node-llama-cpp";
import type { Logger } from "../../logging/logger.js";
import { LlamaErrorLog } from "./llama-error-log.js";

/** `auto`: the best GPU backend that works, else the CPU. A named backend must work, or the start fails. */
export type GpuSetting = "auto" | false | "cuda" | "vulkan" | "metal";

/** Layers to keep in VRAM: `auto` as many as fit, `max` all (fails when they do not fit), or a count. */
export type GpuLayersSetting = "auto" | "max" | number;

export interface Acceleration {
  /** "cpu", "cuda", "vulkan" or "metal". */
  backend: string;
  /** Names of the GPU devices the backend uses (empty on the CPU). */
  gpuDevices: string[];
  /** Model layers offloaded to the GPU (0 on the CPU). */
  gpuLayers: number;
  /** Total VRAM and VRAM in use once the model and context are loaded (0 on the CPU). */
  vramTotalBytes: number;
  vramUsedBytes: number;
}

/** The llama.cpp binding, and its error-level log lines (llama.cpp logs the reason before a call fails). */
/**
 * The flash-attention setting handed to llama.cpp. `auto` means: on a GPU backend, llama.cpp's own choice; on the CPU,
 * off. Measured on the CPU (docs/benchmarks.md Finding 10): with it on, decoding at ~1,850 tokens of context was 1.8×
 * (100M-parameter shapes) to 2.3× (test model) slower, while prompts read 15–30 % faster and short contexts decoded
 * ~15 % faster; a chat node spends most of its time decoding with the conversation's context behind it.
 */
export function flashAttentionFor(setting: "auto" | boolean, gpu: Llama["gpu"]): "auto" | boolean {
  if (setting !== "auto") return setting;
  return gpu === false ? false : "auto";
}

export interface StartedLlama {
  llama: Llama;
  errors: LlamaErrorLog;
}

const backendNames: Record<Exclude<GpuSetting, "auto" | false>, string> = { cuda: "CUDA", vulkan: "Vulkan", metal: "Metal" };

/**
 * Loads the llama.cpp binding for `gpu`. With a named backend, a failure (no usable binary, driver or device, or a
 * platform that cannot run it) throws an error naming it; with `auto`, node-llama-cpp falls back to the CPU, and a
 * warning is logged when the machine has a GPU that did not initialise.
 */
export async function startLlama(gpu: GpuSetting, logger: Logger): Promise<StartedLlama> {
  const errors = new LlamaErrorLog();
  const options = {
    build: "never",
    logLevel: LlamaLogLevel.warn,
    logger: (level: LlamaLogLevel, message: string) => {
      const text = message.trim();
      if (!text) return;
      if (level === LlamaLogLevel.error || level === LlamaLogLevel.fatal) {
        logger.error({ source: "llama.cpp" }, text);
        errors.push(text);
      } else logger.debug({ source: "llama.cpp" }, text);
    },
  } as const;
  if (gpu === "auto" || gpu === false) {
    const llama = await getLlama({ ...options, gpu });
    if (gpu === "auto" && llama.gpu === false) await warnIfGpuUnused(logger);
    return { llama, errors };
  }
  const name = backendNames[gpu];
  const hint = `set agent.gpu to "auto" to fall back to the CPU, or to false`;
  let llama: Llama;
  try {
    llama = await getLlama({ ...options, gpu });
  } catch (error) {
    const reason = (error as Error).name === "NoBinaryFoundError" ? "no working llama.cpp binary for it on this machine (driver, runtime or device missing)" : (error as Error).message;
    throw new Error(`agent.gpu is "${gpu}" but the ${name} backend could not be initialised: ${reason}; ${hint}`, { cause: error });
  }
  if (llama.gpu !== gpu) {
    // node-llama-cpp quietly treats a backend the platform cannot have (Metal off macOS) as "auto".
    const got = llama.gpu === false ? "the CPU" : llama.gpu;
    await llama.dispose();
    throw new Error(`agent.gpu is "${gpu}" but the ${name} backend is not available on this platform (llama.cpp started on ${got}); ${hint}`);
  }
  return { llama, errors };
}

async function warnIfGpuUnused(logger: Logger): Promise<void> {
  // The GPU backends whose drivers and runtime libraries are installed here; when there are any, one failed to start.
  const detected = (await getLlamaGpuTypes("supported").catch(() => [])).filter((type) => type !== false);
  if (detected.length > 0) {
    logger.warn({ detected }, `a GPU (${detected.join(", ")}) was detected but could not be initialised; running on the CPU`);
  }
}

/** What the loaded model runs on: backend, devices, offloaded layers, VRAM. */
export async function describeAcceleration(llama: Llama, model: LlamaModel): Promise<Acceleration> {
  if (llama.gpu === false) return { backend: "cpu", gpuDevices: [], gpuLayers: 0, vramTotalBytes: 0, vramUsedBytes: 0 };
  const [vram, gpuDevices] = await Promise.all([llama.getVramState(), llama.getGpuDeviceNames()]);
  return { backend: llama.gpu, gpuDevices, gpuLayers: model.gpuLayers, vramTotalBytes: vram.total, vramUsedBytes: vram.used };
}

/**
 * The llama.cpp build in use: node-llama-cpp's version, the llama.cpp release its binaries were built from, a
 * prebuilt or local build, and the backend. Saved sequence states are only valid for the build that wrote them.
 */
export async function llamaBuild(llama: Llama): Promise<string> {
  const release = llama.llamaCppRelease;
  return `node-llama-cpp ${await getModuleVersion()}, llama.cpp ${release.repo}@${release.release} (${llama.buildType}, ${llama.gpu || "cpu"})`;
}
