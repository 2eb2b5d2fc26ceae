// The small instruct model fetched on first run, and where downloaded models are cached.
import os from "node:os";
import path from "node:path";

/** Qwen2.5-0.5B-Instruct, Q4_K_M quantization, from the Qwen organisation's own GGUF repository. */
export const builtInDefaultModelSpec = "hf:Qwen/Qwen2.5-0.5B-Instruct-GGUF/qwen2.5-0.5b-instruct-q4_k_m.gguf";

/**
 * SHA-256 of that file (491,400,032 bytes), as published in the repository's Git LFS pointer
 * (https://huggingface.co/Qwen/Qwen2.5-0.5B-Instruct-GGUF/blob/main/qwen2.5-0.5b-instruct-q4_k_m.gguf).
 */
export const builtInDefaultModelSha256 = "74a4da8c9fdbcd15bd1f6d01d621410d31c6fc00986f5eb687824e7b93d7a9db";

/** Size in bytes of the built-in default model file, for messages before downloading. */
export const builtInDefaultModelSize = 491_400_032;

/** The default model spec: env CLAWBOT_DEFAULT_MODEL (a path, URL or hf: URI) or the built-in Qwen2.5-0.5B-Instruct. */
export function defaultModelSpec(environment: NodeJS.ProcessEnv = process.env): string {
  const configured = environment.CLAWBOT_DEFAULT_MODEL?.trim();
  return configured || builtInDefaultModelSpec;
}

/** The pinned SHA-256 of the default model; undefined when CLAWBOT_DEFAULT_MODEL overrides it (the server's hash is used then). */
export function defaultModelSha256(environment: NodeJS.ProcessEnv = process.env): string | undefined {
  return defaultModelSpec(environment) === builtInDefaultModelSpec ? builtInDefaultModelSha256 : undefined;
}

/** Where downloaded models live: env CLAWBOT_MODELS, else $XDG_CACHE_HOME/clawbot/models, else ~/.cache/clawbot/models. */
export function modelCacheDir(environment: NodeJS.ProcessEnv = process.env): string {
  const configured = environment.CLAWBOT_MODELS?.trim();
  if (configured) return path.resolve(configured);
  const cacheHome = environment.XDG_CACHE_HOME?.trim();
  if (cacheHome && path.isAbsolute(cacheHome)) return path.join(cacheHome, "clawbot", "models");
  return path.join(environment.HOME || os.homedir(), ".cache", "clawbot", "models");
}
