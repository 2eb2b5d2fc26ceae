// Which sequence a request gets, and how much of a waiting request's prompt a freed sequence holds (session affinity).
import type { LlamaContextSequence, Token } from "node-llama-cpp";
import { alignCache } from "./cache-alignment.js";

/** Tokens at the end of a sequence's state that a continuing prompt may tokenize differently. */
const continuationSlack = 8;

export class SequenceChooser {
  /** When each sequence was last handed out, to give away the least recently used state first. */
  private readonly lastUsed: number[];
  /** The conversation each sequence last served. */
  readonly conversations: (string | undefined)[];

  constructor(
    private readonly sequences: readonly LlamaContextSequence[],
    /** Whether context reuse is on (else no sequence holds anything worth choosing for). */
    private readonly reuse: boolean,
    /** Whether trimmed history can be shifted out of a sequence (see `alignCache`). */
    private readonly shift: boolean,
  ) {
    this.lastUsed = sequences.map(() => 0);
    this.conversations = sequences.map(() => undefined);
  }

  /**
   * Which free sequence a request gets: the one that last served its conversation (session affinity), else one
   * whose state this prompt continues (a client that re-sends the whole history), else a stateless one holding at least
   * half of this prompt, else the least recently used.
   * Whatever it gets, the prefix it shares with the prompt (often the system prompt) is not evaluated again.
   */
  choose(free: readonly number[], tokens: Token[], conversation: string | undefined): number {
    if (conversation !== undefined) {
      const own = free.find((slot) => this.conversations[slot] === conversation);
      if (own !== undefined) return own;
    }
    let continued: number | undefined;
    let continuedHeld = 0;
    for (const slot of free) {
      const held = this.continuedTokens(slot, tokens);
      if (held > continuedHeld) {
        continued = slot;
        continuedHeld = held;
      }
    }
    if (continued !== undefined) return continued;
    const shared = this.longestSharedPrefix(free, tokens);
    if (shared !== undefined) return shared;
    return free.reduce((oldest, slot) => ((this.lastUsed[slot] as number) < (this.lastUsed[oldest] as number) ? slot : oldest));
  }

  /**
   * The free sequence, among those that served no conversation, that shares the longest prefix with the prompt, when
   * that prefix is at least half the prompt (a repeated or regenerated request, a long shared preamble); undefined
   * otherwise. Sequences holding a conversation are left to it: its next turn is worth more than a stateless prefix.
   */
  private longestSharedPrefix(free: readonly number[], tokens: Token[]): number | undefined {
    if (!this.reuse) return undefined;
    let best: number | undefined;
    let bestPrefix = Math.ceil((tokens.length - 1) / 2) - 1;
    for (const slot of free) {
      if (this.conversations[slot] !== undefined) continue;
      const { prefix } = alignCache((this.sequences[slot] as LlamaContextSequence).contextTokens, tokens.slice(0, -1), false);
      if (prefix > bestPrefix) {
        best = slot;
        bestPrefix = prefix;
      }
    }
    return best;
  }

  /**
   * How much of a waiting request's work a freed sequence holds (the admission queue's score): the prompt tokens it
   * keeps when the sequence holds the request's conversation (trimmed history shifted out) or a state the prompt
   * continues, else 0, so that a shared system prompt alone does not take a sequence from the waiters ahead.
   */
  score(slot: number, tokens: Token[], conversation: string | undefined): number {
    if (!this.reuse) return 0;
    if (this.serves(slot, conversation)) {
      const { prefix, kept } = alignCache((this.sequences[slot] as LlamaContextSequence).contextTokens, tokens.slice(0, -1), this.shift);
      return prefix + kept;
    }
    return this.continuedTokens(slot, tokens);
  }

  /** Whether the sequence last served this conversation. */
  serves(slot: number, conversation: string | undefined): boolean {
    return conversation !== undefined && this.conversations[slot] === conversation;
  }

  /** Records that the sequence now serves this request. */
  assign(slot: number, conversation: string | undefined): void {
    this.lastUsed[slot] = performance.now();
    this.conversations[slot] = conversation;
  }

  /** Prompt tokens a sequence keeps when the prompt continues its whole state, else 0. */
  private continuedTokens(slot: number, tokens: Token[]): number {
    const held = (this.sequences[slot] as LlamaContextSequence).contextTokens;
    const { prefix } = alignCache(held, tokens.slice(0, -1), false);
    // Re-tokenizing an answer as history can differ in its last few tokens from how it was generated.
    return prefix > 0 && prefix >= held.length - continuationSlack ? prefix : 0;
  }
}
