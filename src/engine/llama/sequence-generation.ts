// Generates on one context sequence: keep what it holds of the prompt (shifting out trimmed history), evaluate the rest, sample, detokenize, stop.
import type { LlamaContextSequence, LlamaGrammarEvaluationState, LlamaModel, Token } from "node-llama-cpp";
import type { FinishReason, GenerationParams } from "../../core/types.js";
import { StopMatcher } from "../stop-matcher.js";
import type { BatchBarrier } from "./batch-barrier.js";
import { alignCache } from "./cache-alignment.js";
import type { GenerationGate } from "./generation-gate.js";
import type { LogprobCollector } from "./logprob-collector.js";
import { TokenTextDecoder } from "./token-text-decoder.js";
import type { WatermarkBias } from "./watermark-bias.js";

export interface SequenceGenerationOptions {
  model: LlamaModel;
  sequence: LlamaContextSequence;
  gate: GenerationGate;
  barrier: BatchBarrier;
  /** The whole prompt as the context must hold it, beginning-of-sequence token included. */
  promptTokens: Token[];
  /** Keep the prefix the sequence already holds (false: evaluate the whole prompt again). */
  reuse: boolean;
  /**
   * Also keep history after a part the prompt dropped (trimmed exchanges): erase that part and shift the later tokens
   * down, as llama.cpp's context shift does (false where the model cannot shift its cache).
   */
  shift: boolean;
  params: GenerationParams;
  /** Most tokens to generate (already capped by the room left in the context). */
  maxTokens: number;
  stopStrings: string[];
  /** Tokens that end the answer (template end-of-turn markers that are single control tokens). */
  stopTokens: ReadonlySet<Token>;
  signal: AbortSignal;
  onFirstToken(): void;
  /** Holds the answer to a grammar (response_format JSON); undefined for free text. */
  grammar?: LlamaGrammarEvaluationState;
  /** Receives each generated token's probabilities (logprobs asked for); undefined keeps sampling as cheap as it is. */
  logprobs?: LogprobCollector;
  /** Biases each sampled token toward its predecessor's green list (a watermarked answer); undefined for none. */
  watermark?: WatermarkBias;
}

export interface GenerationOutcome {
  finishReason: FinishReason;
  completionTokens: number;
  /** Prompt tokens already in the sequence's state from an earlier request, not evaluated again. */
  reusedPromptTokens: number;
  /** The stop string that ended it (finishReason "stop" by a stop string, not an end-of-generation token). */
  stopString?: string;
}

/** What evaluateWithMetadata yields when probabilities are asked for. */
interface WithProbabilities {
  token: Token;
  probabilities: Map<Token, number>;
}

/** Yields text deltas; returns how the generation ended. */
export async function* generateOnSequence(options: SequenceGenerationOptions): AsyncGenerator<string, GenerationOutcome> {
  const { model, sequence, gate, barrier, promptTokens, params, signal, stopTokens, maxTokens } = options;
  barrier.join();
  try {
    // Keep what the sequence already holds of this prompt; at least the last prompt token is evaluated for logits.
    const { prefix, dropped, kept } = options.reuse ? alignCache(sequence.contextTokens, promptTokens.slice(0, -1), options.shift) : { prefix: 0, dropped: 0, kept: 0 };
    const erase = dropped > 0 ? [{ start: prefix, end: prefix + dropped }] : [];
    const keptEnd = prefix + dropped + kept;
    if (keptEnd < sequence.nextTokenIndex) erase.push({ start: keptEnd, end: sequence.nextTokenIndex });
    if (erase.length > 0) await gate.prepare(() => sequence.eraseContextTokenRanges(erase));
    const reusedPromptTokens = sequence.nextTokenIndex;
    const collector = options.logprobs;
    // The token before the one being sampled: the prompt's last, then each generated token as it is queued for decoding.
    let previousToken = promptTokens[promptTokens.length - 1] as Token;
    const watermark = options.watermark;
    const evaluateOptions = {
      temperature: params.temperature,
      ...(params.topP !== undefined ? { topP: params.topP } : {}),
      ...(params.seed !== undefined ? { seed: params.seed } : {}),
      ...(options.grammar ? { grammarEvaluationState: options.grammar } : {}),
      // Read by node-llama-cpp when it samples, after this sequence's last token was decoded.
      ...(watermark ? { tokenBias: () => watermark.after(previousToken) } : {}),
      yieldEogToken: true,
    };
    const tokensToEvaluate = promptTokens.slice(reusedPromptTokens);
    // Probabilities (a map over the vocabulary per token) are read only when logprobs are asked for.
    const iterator: AsyncGenerator<Token | WithProbabilities, void> = collector
      ? sequence.evaluateWithMetadata(tokensToEvaluate, { probabilities: true }, evaluateOptions)
      : sequence.evaluate(tokensToEvaluate, evaluateOptions);
    type Step = IteratorResult<Token | WithProbabilities, void>;
    const decoder = new TokenTextDecoder(model, promptTokens);
    const matcher = new StopMatcher(options.stopStrings);
    let completionTokens = 0;
    let finishReason: FinishReason = "length";
    /**
     * Queues the next token's decode, together with the other generations' (undefined when cancelled). It counts as in
     * flight until the decode returns, however long the consumer takes with the current text: a slow reader does not
     * hold the others' next batch.
     */
    const queueNextDecode = async (): Promise<{ step: Promise<Step> } | undefined> => {
      // Wait only while a sequence is being prepared (no microtask otherwise).
      const pause = gate.pass();
      if (pause) await pause;
      if (signal.aborted) return undefined;
      // No microtask when this is the only generation.
      const turn = barrier.turn();
      if (turn) await turn;
      if (signal.aborted) {
        barrier.returned();
        return undefined;
      }
      const next = iterator.next();
      next.then(
        () => barrier.returned(),
        () => barrier.returned(),
      );
      // Wrapped: an async function returning the promise itself would wait for it.
      return { step: next };
    };
    try {
      // The prompt joins the batch of the running generations' next tokens.
      const promptTurn = barrier.promptTurn();
      if (promptTurn) await promptTurn;
      for (let step = await iterator.next(); !step.done; ) {
        const token = collector ? (step.value as WithProbabilities).token : (step.value as Token);
        if (completionTokens === 0) options.onFirstToken();
        if (stopTokens.has(token) || model.isEogToken(token)) {
          finishReason = "stop";
          break;
        }
        completionTokens += 1;
        if (collector) collector.add(token, (step.value as WithProbabilities).probabilities);
        const { text, stopped } = matcher.push(decoder.push(token));
        const more = !stopped && completionTokens < maxTokens;
        previousToken = token;
        // The next token's decode starts before this text goes to the consumer, so the two overlap.
        const following = more ? await queueNextDecode() : undefined;
        if (text) yield text;
        if (stopped) return { finishReason: "stop", completionTokens, reusedPromptTokens, stopString: matcher.matched };
        if (!following) {
          if (more) finishReason = "cancelled";
          break;
        }
        step = await following.step;
        if (signal.aborted) {
          finishReason = "cancelled";
          break;
        }
      }
    } finally {
      // Stops the evaluation: the last sampled token is not decoded, nothing stays queued for this sequence.
      await iterator.return();
    }
    const rest = matcher.flush();
    if (rest) yield rest;
    return { finishReason, completionTokens, reusedPromptTokens };
  } finally {
    barrier.leave();
  }
}
