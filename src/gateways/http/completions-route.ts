// POST /v1/completions: OpenAI's legacy text completion; the raw prompt goes through the pipeline without a chat template.
import { randomUUID } from "node:crypto";
import type { FastifyInstance, FastifyReply } from "fastify";
import { z } from "zod";
import { ClawError, toClawError } from "../../core/errors.js";
import type { GenerationParams, Principal, StreamPart } from "../../core/types.js";
import type { PipelineRequest } from "../../pipeline/pipeline.js";
import { openAiUsage, replyJson } from "./http-io.js";
import { invalidBodyError } from "./invalid-body-error.js";
import { alreadyReported } from "./reported-errors.js";
import { requestSignal, type OpenAiRouteContext } from "./openai-route-context.js";
import { SseCompletionWriter } from "./sse-completion-writer.js";

const completionBodySchema = z.object({
  model: z.string().nullable().optional(),
  prompt: z.union([z.string(), z.array(z.string())]),
  stream: z.boolean().nullable().optional(),
  stream_options: z.object({ include_usage: z.boolean().optional() }).nullable().optional(),
  max_tokens: z.number().int().positive().nullable().optional(),
  temperature: z.number().min(0).max(2).nullable().optional(),
  top_p: z.number().gt(0).max(1).nullable().optional(),
  seed: z.number().int().nullable().optional(),
  stop: z.union([z.string(), z.array(z.string()).max(8)]).nullable().optional(),
  echo: z.boolean().nullable().optional(),
  user: z.string().nullable().optional(),
  /** Clawbot extension: the LoRA adapter the answer must come from (one of agent.lora's names). */
  adapter: z.string().min(1).max(128).optional(),
});

type CompletionBody = z.infer<typeof completionBodySchema>;

const isSet = (value: unknown) => value !== undefined && value !== null;
const nonZeroNumber = (value: unknown) => typeof value === "number" && value !== 0;

/** Fields this route does not honour yet, and when a value asks for them (the defaults clients send are fine); checked in order. */
const unsupportedFields: { field: string; refused(value: unknown): boolean; message: string }[] = [
  { field: "n", refused: (value) => typeof value === "number" && value !== 1, message: 'An "n" other than 1 is not supported: one completion per request.' },
  { field: "best_of", refused: (value) => typeof value === "number" && value !== 1, message: 'A "best_of" other than 1 is not supported: one completion per request.' },
  { field: "suffix", refused: (value) => isSet(value) && value !== "", message: 'The "suffix" field (insertion) is not supported.' },
  { field: "logprobs", refused: isSet, message: 'The "logprobs" field is not supported on /v1/completions yet; /v1/chat/completions reports them.' },
  { field: "logit_bias", refused: (value) => typeof value === "object" && value !== null && Object.keys(value).length > 0, message: 'The "logit_bias" field is not supported.' },
  { field: "frequency_penalty", refused: nonZeroNumber, message: 'The "frequency_penalty" field is not supported (only 0 is accepted).' },
  { field: "presence_penalty", refused: nonZeroNumber, message: 'The "presence_penalty" field is not supported (only 0 is accepted).' },
  { field: "response_format", refused: (value) => isSet(value) && (value as { type?: unknown }).type !== "text", message: 'The "response_format" field is not supported on /v1/completions; use /v1/chat/completions.' },
  { field: "grammar", refused: isSet, message: 'The "grammar" field (a llama.cpp server extension) is not supported.' },
  { field: "json_schema", refused: isSet, message: 'The "json_schema" field (a llama.cpp server extension) is not supported.' },
];

export function registerCompletionsRoute(app: FastifyInstance, route: OpenAiRouteContext): void {
  app.post("/v1/completions", { ...route.authenticated, bodyLimit: route.config.max_body }, async (request, reply) => {
    refuseUnsupported(request.body);
    const parsed = completionBodySchema.safeParse(request.body);
    if (!parsed.success) throw invalidBodyError(parsed.error);
    route.models.check(parsed.data.model);
    await complete(route, parsed.data, route.principalOf(request), reply);
  });
}

function refuseUnsupported(body: unknown): void {
  if (typeof body !== "object" || body === null || Array.isArray(body)) return;
  const fields = body as Record<string, unknown>;
  for (const rule of unsupportedFields) {
    if (Object.hasOwn(fields, rule.field) && rule.refused(fields[rule.field])) throw new ClawError("bad_request", rule.message, { param: rule.field });
  }
  const prompt = fields.prompt;
  if (!Array.isArray(prompt)) return;
  if (prompt.length === 0) throw new ClawError("bad_request", "prompt is an empty array: send one string.", { param: "prompt" });
  if (prompt.some((item) => typeof item === "number" || Array.isArray(item))) {
    throw new ClawError("bad_request", "prompt as token ids is not supported: token ids are specific to a tokenizer, so send the text.", { param: "prompt" });
  }
  if (prompt.length > 1) throw new ClawError("bad_request", `prompt holds ${prompt.length} prompts: this server completes one per request.`, { param: "prompt" });
}

async function complete(route: OpenAiRouteContext, body: CompletionBody, principal: Principal, reply: FastifyReply): Promise<void> {
  const id = `cmpl-${randomUUID()}`;
  const model = route.models.model;
  const prompt = typeof body.prompt === "string" ? body.prompt : (body.prompt[0] as string);
  const signal = requestSignal(reply, route.context, principal);
  const agent = route.models.agentFor(body.model);
  const pipelineRequest: PipelineRequest = { id, principal, prompt, params: toParams(body), gateway: "http", ...(agent !== undefined ? { agent } : {}) };
  const echoed = body.echo ? prompt : "";
  if (body.stream) {
    // SSE goes straight onto the raw response; from here this handler owns every error.
    reply.hijack();
    const writer = new SseCompletionWriter(reply.raw, {
      id,
      model,
      includeUsageChunk: body.stream_options?.include_usage === true,
      prefix: echoed,
      maxBuffered: route.config.max_buffered,
      slowClientTimeoutMs: route.config.slow_client_timeout * 1000,
      signal,
    });
    try {
      await route.context.pipeline.handle(pipelineRequest, writer, signal);
    } catch (error) {
      writer.write({ type: "error", error: toClawError(error) });
    }
    return;
  }
  let result: StreamPart | undefined;
  await route.context.pipeline.handle(pipelineRequest, { write: (part) => void ((part.type === "finish" || part.type === "error") && (result = part)) }, signal);
  if (!result || (result.type !== "finish" && result.type !== "error")) throw new ClawError("internal", "The pipeline ended without an answer.");
  // The request observers saw this error: it is not a refused request.
  if (result.type === "error") throw alreadyReported(result.error);
  replyJson(reply, 200, {
    id,
    object: "text_completion",
    created: Math.floor(Date.now() / 1000),
    model,
    choices: [{ text: echoed + result.text, index: 0, logprobs: null, finish_reason: result.finishReason }],
    usage: openAiUsage(result.usage),
  });
}

function toParams(body: CompletionBody): Partial<GenerationParams> {
  return {
    maxTokens: body.max_tokens ?? undefined,
    temperature: body.temperature ?? undefined,
    topP: body.top_p ?? undefined,
    seed: body.seed ?? undefined,
    stop: typeof body.stop === "string" ? [body.stop] : (body.stop ?? undefined),
    adapter: body.adapter,
  };
}
