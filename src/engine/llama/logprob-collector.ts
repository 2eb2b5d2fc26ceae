// Turns each sampled token's probabilities into its log-probability and top alternatives, held until its text is delivered.
import type { Token } from "node-llama-cpp";
import type { TokenLogprob } from "../../core/types.js";
import type { TokenPieces } from "./token-pieces.js";

/** OpenAI's floor for a token the distribution gives no chance (JSON has no -Infinity). */
const minLogprob = -9999;

export class LogprobCollector {
  private pending: TokenLogprob[] = [];

  constructor(
    private readonly pieces: TokenPieces,
    /** Alternatives to report per token (0–20). */
    private readonly top: number,
  ) {}

  /**
   * Records a generated token. `probabilities` is the distribution it was drawn from (after the grammar, top-k/top-p
   * and temperature), most likely first, as node-llama-cpp returns it.
   */
  add(token: Token, probabilities: ReadonlyMap<Token, number> | undefined): void {
    const piece = this.pieces.piece(token);
    const top: TokenLogprob["top"] = [];
    if (probabilities && this.top > 0) {
      for (const [alternative, probability] of probabilities) {
        // Tokens the grammar forbids have no chance: they are not alternatives.
        if (top.length >= this.top || probability <= 0) break;
        const { text, bytes } = this.pieces.piece(alternative);
        top.push({ token: text, logprob: logOf(probability), bytes });
      }
    }
    this.pending.push({ token: piece.text, logprob: logOf(probabilities?.get(token) ?? 0), bytes: piece.bytes, top });
  }

  /** The tokens recorded since the last call (their text is being delivered now); undefined when none. */
  take(): TokenLogprob[] | undefined {
    if (this.pending.length === 0) return undefined;
    const taken = this.pending;
    this.pending = [];
    return taken;
  }
}

function logOf(probability: number): number {
  return probability > 0 ? Math.max(Math.log(probability), minLogprob) : minLogprob;
}
