// Turns generated tokens into text incrementally, holding back bytes of a character that is not complete yet.
import type { LlamaModel, Token } from "node-llama-cpp";

/** Tokens of context kept before new ones, so leading-space rules see what came before. */
const contextTokens = 8;
/** The context grows up to this many tokens before it is cut back to `contextTokens` (and its text decoded again). */
const maxContextTokens = 24;
/** A UTF-8 character spans at most 4 byte tokens. */
const maxHeldTokens = 4;

export class TokenTextDecoder {
  /** Recent tokens, and their text as decoded together: each new token is decoded after them in one call. */
  private context: Token[];
  private contextText: string;
  private pending: Token[] = [];

  constructor(
    private readonly model: LlamaModel,
    promptTokens: readonly Token[],
  ) {
    this.context = promptTokens.slice(-contextTokens);
    this.contextText = this.context.length > 0 ? model.detokenize(this.context, false) : "";
  }

  /** Adds a token; returns the text that is now complete ("" while a character is still partial). */
  push(token: Token): string {
    this.pending.push(token);
    const tokens = this.context.length > 0 ? [...this.context, ...this.pending] : this.pending;
    const whole = this.model.detokenize(tokens, false);
    let text: string;
    if (whole.startsWith(this.contextText)) {
      text = whole.slice(this.contextText.length);
    } else {
      // The context's own text changed with what follows it (a tokenizer's clean-up rule): decode the new tokens alone.
      text = this.model.detokenize(this.pending, false, this.context);
    }
    if (text.endsWith("\uFFFD") && this.pending.length < maxHeldTokens) return "";
    this.pending = [];
    if (tokens.length > maxContextTokens) {
      this.context = tokens.slice(-contextTokens);
      this.contextText = this.model.detokenize(this.context, false);
    } else {
      this.context = tokens;
      this.contextText = whole;
    }
    return text;
  }
}
