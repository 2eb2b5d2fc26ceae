// POST /v1/embeddings: OpenAI's embeddings API on the node's own model (LanguageModel.embed), floats or base64.
import type { FastifyInstance } from "fastify";
import { z } from "zod";
import { ClawError } from "../../core/errors.js";
import { replyJson } from "./http-io.js";
import { invalidBodyError } from "./invalid-body-error.js";
import { requestSignal, type OpenAiRouteContext } from "./openai-route-context.js";

/** Inputs one request may hold, as OpenAI allows; the body limit (max_body) and the embedding context bound the rest. */
export const maxEmbeddingInputs = 2048;

const embeddingsBodySchema = z.object({
  input: z.union([z.string(), z.array(z.string())]),
  model: z.string().nullable().optional(),
  encoding_format: z.enum(["float", "base64"]).nullable().optional(),
  dimensions: z.number().int().positive().nullable().optional(),
  user: z.string().nullable().optional(),
});

export function registerEmbeddingsRoute(app: FastifyInstance, route: OpenAiRouteContext): void {
  app.post("/v1/embeddings", { ...route.authenticated, bodyLimit: route.config.max_body }, async (request, reply) => {
    refuseTokenInput(request.body);
    const parsed = embeddingsBodySchema.safeParse(request.body);
    if (!parsed.success) throw invalidBodyError(parsed.error);
    const body = parsed.data;
    route.models.check(body.model);
    const texts = typeof body.input === "string" ? [body.input] : body.input;
    if (texts.length > maxEmbeddingInputs) {
      throw new ClawError("bad_request", `input holds ${texts.length} texts; at most ${maxEmbeddingInputs} are embedded per request.`, { param: "input" });
    }
    const { engine } = route.context;
    if (!route.context.isReady()) throw new ClawError("unavailable", "The model is still loading; retry when /readyz says ready.");
    const dimensions = engine.info.embeddingDimensions;
    if (dimensions === undefined || !engine.embed) throw new ClawError("bad_request", `The ${engine.info.engine} engine cannot compute embeddings.`);
    if (body.dimensions != null && body.dimensions !== dimensions) {
      throw new ClawError("bad_request", `dimensions must be ${dimensions}, this model's embedding size (vectors are not shortened).`, { param: "dimensions" });
    }
    // Counted with the user's other requests (limits.max_requests_per_subject), over every gateway.
    // The security policy's gateways, rollout and limits apply as to a chat (embeddings count as requests and prompt tokens).
    const principal = route.principalOf(request);
    const authorization = route.context.pipeline.authorize({ principal, gateway: "http", requested: {}, defaultMaxTokens: 0 });
    let release: (() => void) | undefined;
    try {
      release = route.context.pipeline.subjectLimits.admit(principal.subject);
      const result = await engine.embed(texts, { signal: requestSignal(reply, route.context, principal) });
      authorization?.finished({ promptTokens: result.promptTokens, completionTokens: 0 });
      const base64 = body.encoding_format === "base64";
      replyJson(reply, 200, {
        object: "list",
        data: result.vectors.map((vector, index) => ({ object: "embedding", index, embedding: base64 ? toBase64(vector) : vector })),
        model: route.models.model,
        usage: { prompt_tokens: result.promptTokens, total_tokens: result.promptTokens },
      });
    } finally {
      release?.();
      authorization?.release();
    }
  });
}

/**
 * OpenAI also takes token ids (an array of integers, or of such arrays). Ids of another tokenizer (tiktoken's) would
 * embed meaningless tokens of this model without any error, so they are refused: send text.
 */
function refuseTokenInput(body: unknown): void {
  const input = typeof body === "object" && body !== null ? (body as Record<string, unknown>).input : undefined;
  if (!Array.isArray(input)) return;
  const index = input.findIndex((item) => typeof item === "number" || Array.isArray(item));
  if (index === -1) return;
  throw new ClawError("bad_request", "input as token ids is not supported: token ids are specific to a tokenizer, so send the text.", { param: `input[${index}]` });
}

/** The vector as OpenAI's base64 encoding: little-endian float32s. */
function toBase64(vector: number[]): string {
  const floats = Float32Array.from(vector);
  return Buffer.from(floats.buffer, floats.byteOffset, floats.byteLength).toString("base64");
}
