// The OpenAI chat-completions request body we accept, and its mapping onto a pipeline request.
import { z } from "zod";
import { ClawError } from "../../core/errors.js";
import type { ChatMessage, GenerationParams } from "../../core/types.js";
import { knowledgeFieldSchema } from "../knowledge-field.js";
import { logprobsSchema, toLogprobsParam, topLogprobsSchema } from "../logprobs-fields.js";
import { responseFormatSchema, toResponseFormat } from "../response-format.js";
import { toolChoiceFieldSchema } from "../tool-choice-field.js";
import { assistantToolCallSchema, ToolCallLedger, toolsFieldSchema, toToolCalls } from "./openai-tools.js";

const contentPartSchema = z.object({ type: z.literal("text"), text: z.string() });

const messageSchema = z.object({
  role: z.enum(["system", "developer", "user", "assistant", "tool"]),
  /** null reads as ""; absent only on an assistant message with tool_calls. */
  content: z.union([z.string(), z.array(contentPartSchema)]).nullable().optional(),
  /** An assistant message's calls (the client sends back the ones it was given). */
  tool_calls: z.array(assistantToolCallSchema).max(128).nullable().optional(),
  /** A `tool` message: the id of the call it answers. */
  tool_call_id: z.string().max(256).optional(),
});

/** Known fields are checked; other OpenAI fields (user, metadata, …) are accepted and ignored. */
export const chatCompletionBodySchema = z.object({
  model: z.string().optional(),
  messages: z.array(messageSchema).min(1),
  stream: z.boolean().optional(),
  stream_options: z.object({ include_usage: z.boolean().optional() }).nullable().optional(),
  max_tokens: z.number().int().positive().nullable().optional(),
  max_completion_tokens: z.number().int().positive().nullable().optional(),
  temperature: z.number().min(0).max(2).nullable().optional(),
  top_p: z.number().gt(0).max(1).nullable().optional(),
  seed: z.number().int().nullable().optional(),
  stop: z.union([z.string(), z.array(z.string()).max(8)]).nullable().optional(),
  n: z.literal(1).nullable().optional(),
  /** Clawbot extension: the LoRA adapter the answer must come from (one of agent.lora's names). */
  adapter: z.string().min(1).max(128).optional(),
  /** JSON answers (json_object, json_schema), enforced by grammar-constrained decoding. */
  response_format: responseFormatSchema.nullable().optional(),
  logprobs: logprobsSchema,
  top_logprobs: topLogprobsSchema,
  /** Clawbot extension: the knowledge base for this turn (false: none; {collections: [...]}: these); see docs/openai-api.md. */
  knowledge: knowledgeFieldSchema.nullable(),
  /** Functions the client runs itself: a call of one ends the answer with finish_reason "tool_calls" (docs/openai-api.md). */
  tools: toolsFieldSchema.nullable().optional(),
  tool_choice: toolChoiceFieldSchema.nullable().optional(),
  /** Accepted: a generation makes at most one call, so calls are never parallel anyway. */
  parallel_tool_calls: z.boolean().nullable().optional(),
});

export type ChatCompletionBody = z.infer<typeof chatCompletionBodySchema>;

/**
 * The conversation as the pipeline takes it. Throws bad_request naming the message's field for a message without
 * content (but an assistant's with tool_calls), tool_calls on a message that is no assistant's, and a `tool` message
 * that answers no earlier call.
 */
export function toChatMessages(body: ChatCompletionBody): ChatMessage[] {
  const ledger = new ToolCallLedger();
  return body.messages.map((message, index): ChatMessage => {
    const content = typeof message.content === "string" ? message.content : (message.content ?? []).map((part) => part.text).join("");
    const calls = message.tool_calls ?? [];
    if (calls.length > 0 && message.role !== "assistant") {
      throw new ClawError("bad_request", `Only assistant messages carry "tool_calls"; messages[${index}] is a "${message.role}" message.`, { param: `messages[${index}].tool_calls` });
    }
    // As before tools: content may be null (read as ""), but not absent, unless the message has tool_calls.
    if (message.content === undefined && calls.length === 0) {
      throw new ClawError("bad_request", `The "messages[${index}].content" field is required.`, { param: `messages[${index}].content` });
    }
    if (message.role === "tool") return { role: "tool", content, toolCallId: message.tool_call_id, name: ledger.answer(message.tool_call_id, index) };
    if (message.role === "assistant" && calls.length > 0) {
      const toolCalls = toToolCalls(calls);
      ledger.add(toolCalls, index);
      return { role: "assistant", content, toolCalls };
    }
    return { role: message.role === "developer" ? "system" : message.role, content };
  });
}

export function toParams(body: ChatCompletionBody): Partial<GenerationParams> {
  return {
    maxTokens: body.max_completion_tokens ?? body.max_tokens ?? undefined,
    temperature: body.temperature ?? undefined,
    topP: body.top_p ?? undefined,
    seed: body.seed ?? undefined,
    stop: typeof body.stop === "string" ? [body.stop] : (body.stop ?? undefined),
    adapter: body.adapter,
    responseFormat: toResponseFormat(body.response_format),
    // Throws bad_request for top_logprobs without logprobs.
    logprobs: toLogprobsParam(body.logprobs, body.top_logprobs),
  };
}
