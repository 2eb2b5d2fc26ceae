// The OpenAI chat-completions request body we accept, and its mapping onto a pipeline request.
import { z } from "zod";
import type { ChatMessage, GenerationParams } from "../../core/types.js";
import { knowledgeFieldSchema } from "../knowledge-field.js";
import { logprobsSchema, toLogprobsParam, topLogprobsSchema } from "../logprobs-fields.js";
import { responseFormatSchema, toResponseFormat } from "../response-format.js";

const contentPartSchema = z.object({ type: z.literal("text"), text: z.string() });

const messageSchema = z.object({
  role: z.enum(["system", "developer", "user", "assistant"]),
  content: z.union([z.string(), z.array(contentPartSchema)]).nullable(),
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
});

export type ChatCompletionBody = z.infer<typeof chatCompletionBodySchema>;

export function toChatMessages(body: ChatCompletionBody): ChatMessage[] {
  return body.messages.map((message) => ({
    role: message.role === "developer" ? "system" : message.role,
    content: typeof message.content === "string" ? message.content : (message.content ?? []).map((part) => part.text).join(""),
  }));
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
