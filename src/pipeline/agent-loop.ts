// The agent loop: generate; when the model called node-side tools, run them, add the calls and results, generate again.
import { ClawError } from "../core/errors.js";
import type { ChatMessage, FinishPart, TokenLogprob, ToolCall, Usage } from "../core/types.js";
import type { EngineRequest, LanguageModel, RestartPart } from "../engine/language-model.js";
import { stepChoice, type ToolPlan } from "./tool-plan.js";

export interface AgentLoopInput {
  engine: LanguageModel;
  /** The first generation's request (messages, params, conversation…), without tools. */
  request: Omit<EngineRequest, "tools">;
  /** The request's tools; undefined: one generation, as without tools. */
  plan: ToolPlan | undefined;
  signal: AbortSignal;
  /** Takes each generated delta; resolves when the client can take more (backpressure). */
  onText(text: string, logprobs: TokenLogprob[] | undefined): Promise<void>;
  /**
   * The generation in progress starts again (a cluster's worker was lost): the text given to `onText` since this
   * generation began is void.
   */
  onRestart(part: RestartPart): Promise<void>;
  /** Runs one call of a node-side tool; resolves with the tool message for the conversation. */
  runCall(call: ToolCall): Promise<ChatMessage>;
}

export interface AgentLoopResult {
  /**
   * One finish for the whole loop: the usage of every generation, the first one's queue time and first token. A call
   * of a client tool (OpenAI API) ends the loop with finishReason `tool_calls` and the calls.
   */
  finish: FinishPart;
  /** The assistant turns with calls and the tool results, in order (stored with the exchange). */
  steps: ChatMessage[];
}

/** Runs up to `tools.max_steps` generations (the last one cannot call). */
export async function runAgentLoop(input: AgentLoopInput): Promise<AgentLoopResult> {
  const { engine, plan } = input;
  const steps: ChatMessage[] = [];
  const usage: Usage = { promptTokens: 0, completionTokens: 0, cachedPromptTokens: 0 };
  const startedAt = performance.now();
  let first: FinishPart | undefined;
  for (let step = 1; ; step += 1) {
    const tools = plan && { definitions: plan.definitions, choice: stepChoice(plan, step), constrained: plan.constrained };
    const messages = steps.length > 0 ? [...input.request.messages, ...steps] : input.request.messages;
    const calls: ToolCall[] = [];
    let text = "";
    let finish: FinishPart | undefined;
    for await (const part of engine.stream({ ...input.request, messages, ...(tools ? { tools } : {}) }, { signal: input.signal })) {
      if (part.type === "text-delta") {
        text += part.text;
        await input.onText(part.text, part.logprobs);
      } else if (part.type === "tool-call") calls.push(part.call);
      else if (part.type === "restart") {
        text = "";
        calls.length = 0;
        await input.onRestart(part);
      }
      else finish = part;
    }
    if (!finish) throw new ClawError("internal", "The engine ended a generation without a finish.");
    first ??= finish;
    usage.promptTokens += finish.usage.promptTokens;
    usage.completionTokens += finish.usage.completionTokens;
    usage.cachedPromptTokens = (usage.cachedPromptTokens ?? 0) + (finish.usage.cachedPromptTokens ?? 0);
    const calling = finish.finishReason === "tool_calls" && calls.length > 0 && plan !== undefined;
    const clientCalls = calling && calls.some((call) => plan.client.has(call.name));
    if (!calling || clientCalls) {
      if (step === 1 && !clientCalls) return { finish, steps };
      const timings = step === 1 ? finish.timings : { ...first.timings, totalMs: first.timings.queueMs + performance.now() - startedAt };
      // A call the engine made without tools to run it (none offered) ends like an answer.
      const finishReason = clientCalls ? "tool_calls" : finish.finishReason === "tool_calls" ? "stop" : finish.finishReason;
      return { finish: { ...finish, finishReason, usage, timings, ...(clientCalls ? { toolCalls: calls } : {}) }, steps };
    }
    steps.push({ role: "assistant", content: text, toolCalls: calls });
    for (const call of calls) steps.push(await input.runCall(call));
  }
}
