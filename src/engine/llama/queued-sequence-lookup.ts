// Tells which sequence a batch item belongs to, from the context's queue of decodes (node-llama-cpp 3.22 internals).
import type { LlamaContext, Token } from "node-llama-cpp";
import type { SequenceOfTokens } from "./batch-counter.js";

/** The part of node-llama-cpp's LlamaContext this reads: each queued decode keeps the token array a batch item shows. */
interface QueuedDecodes {
  _queuedDecodes?: readonly { sequenceId: number; tokens: readonly Token[] }[];
}

/**
 * node-llama-cpp's batching strategy sees each queued decode as `{tokens, logits, evaluationPriority}`, without its
 * sequence; the context's internal queue holds the same `tokens` array next to the sequence id. Read-only, and when a
 * future version drops the field the lookup answers undefined, so batches keep their queued order (slower, not wrong).
 */
export function queuedSequenceLookup(context: LlamaContext): SequenceOfTokens {
  const internals = context as unknown as QueuedDecodes;
  return (tokens) => internals._queuedDecodes?.find((queued) => queued.tokens === tokens)?.sequenceId;
}
