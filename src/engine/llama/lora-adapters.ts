// LoRA adapters applied to the engine's one context at load, and the check on a request's `params.adapter`.
import path from "node:path";
import type { LlamaContextOptions } from "node-llama-cpp";
import { ClawError } from "../../core/errors.js";
import { assertGgufFile } from "./gguf-file-check.js";

export interface LoraAdapter {
  /** GGUF LoRA adapter file (absolute, or relative to the working directory). */
  path: string;
  /** Multiplier on the adapter's delta (with its alpha/rank): 0 leaves the base model's output unchanged. */
  scale: number;
  /** What requests call it; by default the file name without `.gguf`. */
  name?: string;
}

export interface AppliedAdapter {
  name: string;
  path: string;
  scale: number;
}

/** Names each adapter (file name by default), refusing duplicates, and checks each file is GGUF. */
export function resolveAdapters(adapters: readonly LoraAdapter[]): AppliedAdapter[] {
  const seen = new Set<string>();
  return adapters.map((adapter) => {
    const name = adapter.name ?? path.basename(adapter.path).replace(/\.gguf$/i, "");
    if (seen.has(name)) throw new Error(`Two LoRA adapters are named "${name}"; give each a distinct name`);
    seen.add(name);
    assertGgufFile(adapter.path, "LoRA adapter");
    return { name, path: adapter.path, scale: adapter.scale };
  });
}

/** The `lora` option for createContext: every adapter at its scale, for every sequence of the context. */
export function contextLoraOption(adapters: readonly AppliedAdapter[]): LlamaContextOptions["lora"] {
  if (adapters.length === 0) return undefined;
  return { adapters: adapters.map((adapter) => ({ filePath: adapter.path, scale: adapter.scale })) };
}

/**
 * node-llama-cpp 3.22 applies adapters per context, to all its sequences at once, and only when the context is
 * created; the engine has one context, so a request cannot switch adapters. A request may name an adapter that is
 * applied (all configured ones are); any other name is refused rather than silently answered without it.
 */
export function checkRequestedAdapter(requested: string | undefined, adapters: readonly AppliedAdapter[]): void {
  if (requested === undefined) return;
  if (adapters.some((adapter) => adapter.name === requested)) return;
  const applied = adapters.length === 0 ? "no LoRA adapter is configured" : `the adapters applied to every request are ${adapters.map((adapter) => `"${adapter.name}"`).join(", ")}`;
  throw new ClawError(
    "bad_request",
    `Adapter "${requested}" is not loaded: ${applied}. Adapters are chosen in agent.lora at start; a request cannot switch them.`,
  );
}
