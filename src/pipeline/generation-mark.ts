// Where the generation in progress began in a request's texts: a restart (a cluster's worker lost) cuts them back to it.
import type { TokenLogprob } from "../core/types.js";
import type { RequestTexts } from "./request-observer.js";

export class GenerationMark {
  private generated = 0;
  private delivered = 0;
  private logprobCount = 0;

  constructor(
    private readonly texts: RequestTexts,
    private readonly logprobs: TokenLogprob[] | undefined,
  ) {}

  /** A new generation begins here (after a tool step's results). */
  set(): void {
    this.generated = this.texts.generatedOutput.length;
    this.delivered = this.texts.deliveredOutput.length;
    this.logprobCount = this.logprobs?.length ?? 0;
  }

  /** Drops what the generation in progress added; returns the text generated before it (earlier tool steps' text). */
  rewind(): string {
    this.texts.generatedOutput = this.texts.generatedOutput.slice(0, this.generated);
    this.texts.deliveredOutput = this.texts.deliveredOutput.slice(0, this.delivered);
    if (this.logprobs) this.logprobs.length = this.logprobCount;
    return this.texts.generatedOutput;
  }
}
