// Generates one tool call on a sequence that already holds the prompt: the call marker, then the call's JSON (under the call grammar when constrained).
import type { LlamaContextSequence, LlamaGrammarEvaluationState, LlamaModel, Token } from "node-llama-cpp";
import { ClawError } from "../../core/errors.js";
import type { GenerationParams, ToolCall } from "../../core/types.js";
import { newToolCallId, parseToolCall, toolCallClose, toolCallStart } from "../tool-prompt.js";
import type { BatchBarrier } from "./batch-barrier.js";
import type { GenerationGate } from "./generation-gate.js";
import { type GenerationOutcome, generateOnSequence } from "./sequence-generation.js";

/** Most tokens one tool call may take (its JSON); a call cut off there cannot be read and is answered with an error. */
const maxCallTokens = 1024;
/** A free call (tools.constrained false) gets at least this many tokens, whatever the answer's max_tokens. */
const minFreeCallTokens = 256;

export interface ToolCallGenerationOptions {
  model: LlamaModel;
  sequence: LlamaContextSequence;
  gate: GenerationGate;
  barrier: BatchBarrier;
  /** The rendered prompt, as the sequence holds it. */
  promptTokens: Token[];
  /** The free text generated before the call marker ("" for a forced call). */
  text: string;
  contextSize: number;
  params: GenerationParams;
  /** The call grammar (constrained); undefined: the model writes the call freely until `</tool_call>`. */
  grammar: LlamaGrammarEvaluationState | undefined;
  stopTokens: ReadonlySet<Token>;
  signal: AbortSignal;
  onFirstToken(): void;
}

export interface ToolCallGeneration {
  /** The call; undefined when the generation was cancelled. A call that cannot be read has name "" and its text as arguments. */
  call: ToolCall | undefined;
  outcome: GenerationOutcome;
  /** The call's prompt: the rendered prompt, the text before the call and the marker. */
  promptTokens: number;
}

/**
 * The prompt, the text so far and the call marker, continued on the same sequence (only the new tokens are evaluated):
 * under the grammar, a tool's name and arguments that validate; without it, text until `</tool_call>`, parsed.
 */
export async function generateToolCall(options: ToolCallGenerationOptions): Promise<ToolCallGeneration> {
  const { model, contextSize, params } = options;
  const callPrompt = [...options.promptTokens, ...model.tokenize(options.text, false), ...model.tokenize(toolCallStart, true)];
  const room = contextSize - callPrompt.length;
  if (room <= 0) throw new ClawError("context_length_exceeded", `The tool call does not fit in the context (${contextSize} tokens).`);
  const constrained = options.grammar !== undefined;
  const generation = generateOnSequence({
    model,
    sequence: options.sequence,
    gate: options.gate,
    barrier: options.barrier,
    promptTokens: callPrompt,
    reuse: true,
    shift: false,
    params: { ...params, responseFormat: undefined, stop: undefined, logprobs: undefined },
    // A free call may never close: it is cut at the answer's own limit too.
    maxTokens: Math.min(constrained ? maxCallTokens : Math.max(params.maxTokens, minFreeCallTokens), maxCallTokens, room),
    stopStrings: constrained ? [] : [toolCallClose],
    stopTokens: options.stopTokens,
    signal: options.signal,
    onFirstToken: options.onFirstToken,
    grammar: options.grammar,
  });
  try {
    let text = "";
    let step = await generation.next();
    for (; !step.done; step = await generation.next()) text += step.value;
    const outcome = step.value;
    if (outcome.finishReason === "cancelled") return { call: undefined, outcome, promptTokens: callPrompt.length };
    const parsed = parseToolCall(text);
    const call = { id: newToolCallId(), ...("problem" in parsed ? { name: "", arguments: text } : parsed) };
    return { call, outcome, promptTokens: callPrompt.length };
  } finally {
    await generation.return(undefined as never);
  }
}
