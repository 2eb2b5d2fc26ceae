// The logprobs / top_logprobs request fields and the logprob entries of answers, in OpenAI's shape (HTTP and frames alike).
import { z } from "zod";
import { ClawError } from "../core/errors.js";
import type { GenerationParams, TokenLogprob } from "../core/types.js";

export const logprobsSchema = z.boolean().nullable().optional();
export const topLogprobsSchema = z.number().int().min(0).max(20).nullable().optional();

/** The engine's logprobs setting; top_logprobs without logprobs true is refused, as OpenAI does. */
export function toLogprobsParam(logprobs: boolean | null | undefined, topLogprobs: number | null | undefined): GenerationParams["logprobs"] {
  if (logprobs === true) return { top: topLogprobs ?? 0 };
  if (topLogprobs !== undefined && topLogprobs !== null) {
    throw new ClawError("bad_request", 'top_logprobs needs "logprobs": true.', { param: "top_logprobs" });
  }
  return undefined;
}

export interface LogprobEntry {
  token: string;
  logprob: number;
  bytes: number[];
  top_logprobs: { token: string; logprob: number; bytes: number[] }[];
}

/** OpenAI's `logprobs.content` entries. */
export function logprobEntries(logprobs: readonly TokenLogprob[]): LogprobEntry[] {
  return logprobs.map(({ token, logprob, bytes, top }) => ({ token, logprob, bytes, top_logprobs: top }));
}
