// A choice's `logprobs` in OpenAI's shape: `{content: [...], refusal: null}` when they were asked for, else null.
import type { TokenLogprob } from "../../core/types.js";
import { type LogprobEntry, logprobEntries } from "../logprobs-fields.js";

export function choiceLogprobs(logprobs: readonly TokenLogprob[] | undefined): { content: LogprobEntry[]; refusal: null } | null {
  return logprobs ? { content: logprobEntries(logprobs), refusal: null } : null;
}
