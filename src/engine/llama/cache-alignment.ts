// Lines a sequence's evaluated tokens up with a new prompt: the shared prefix, and after it, history the prompt dropped.
import type { LlamaModel, Token } from "node-llama-cpp";

export interface CacheAlignment {
  /** Tokens at the start that the sequence and the prompt share (the system prompt, often more). */
  prefix: number;
  /** Tokens right after the prefix that the prompt no longer has (trimmed history): erased, later tokens shifted down. */
  dropped: number;
  /** Tokens after the dropped range that continue the prompt from `prefix` on. */
  kept: number;
}

/** A dropped range is erased only when at least this many tokens after it are kept: an erase pauses every generation. */
export const minimumKeptAfterDrop = 16;

/**
 * Where `held` (what a sequence holds) and `prompt` (the tokens it must hold next) agree: `prompt` must start with
 * held[0, prefix) + held[prefix + dropped, prefix + dropped + kept). The drop is the one that keeps the most tokens
 * (the smallest drop among equals); with `shift` false, or when it would keep fewer than `minimumKept`, nothing is
 * dropped and only the prefix is kept. Typically the prompt is [system prompt] + [the newer part of the history] +
 * [new turn], after the pipeline trimmed the oldest exchanges: the whole newer part is kept.
 */
export function alignCache(held: readonly Token[], prompt: readonly Token[], shift: boolean, minimumKept = minimumKeptAfterDrop): CacheAlignment {
  let prefix = 0;
  const shorter = Math.min(held.length, prompt.length);
  while (prefix < shorter && held[prefix] === prompt[prefix]) prefix += 1;
  const aligned: CacheAlignment = { prefix, dropped: 0, kept: 0 };
  // Erasing from position 0 empties the sequence instead (llama.cpp cannot shift what nothing precedes).
  if (!shift || prefix === 0 || prefix >= shorter) return aligned;
  const next = prompt[prefix];
  for (let start = prefix + 1; start < held.length; start += 1) {
    // A later start cannot keep more than what is left after it.
    if (held.length - start <= aligned.kept) break;
    if (held[start] !== next) continue;
    let length = 1;
    while (start + length < held.length && prefix + length < prompt.length && held[start + length] === prompt[prefix + length]) length += 1;
    if (length > aligned.kept) {
      aligned.dropped = start - prefix;
      aligned.kept = length;
    }
  }
  if (aligned.kept < minimumKept) return { prefix, dropped: 0, kept: 0 };
  return aligned;
}

/** Whether llama.cpp can erase tokens from the middle of this model's cache and shift the later ones (as adaptStateToTokens checks). */
export function canShiftCache(model: LlamaModel): boolean {
  const architecture = model.fileInfo.metadata?.general?.architecture;
  return !model.fileInsights.isRecurrent && String(architecture) !== "deepseek2" && !model.fileInsights.swaSize;
}
