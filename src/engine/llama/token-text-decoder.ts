// Turns generated tokens into text incrementally, holding back bytes of a character that is not complete yet.
import type { LlamaModel, Token } from "node-llama-cpp";

/** Tokens of context passed to detokenize, so leading-space rules see what came before. */
const contextTokens = 8;
/** A UTF-8 character spans at most 4 byte tokens. */
const maxHeldTokens = 4;

export class TokenTextDecoder {
  private readonly previous: Token[];
  private pending: Token[] = [];

  constructor(
    private readonly model: LlamaModel,
    promptTokens: readonly Token[],
  ) {
    this.previous = promptTokens.slice(-contextTokens);
  }

  /** Adds a token; returns the text that is now complete ("" while a character is still partial). */
  push(token: Token): string {
    this.pending.push(token);
    const text = this.model.detokenize(this.pending, false, this.previous);
    if (text.endsWith("\uFFFD") && this.pending.length < maxHeldTokens) return "";
    this.previous.push(...this.pending);
    this.previous.splice(0, Math.max(0, this.previous.length - contextTokens));
    this.pending = [];
    return text;
  }
}
