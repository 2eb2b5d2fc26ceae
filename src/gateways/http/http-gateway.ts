// The OpenAI-compatible HTTP gateway: /v1/chat/completions (JSON or SSE), /v1/models, /healthz, /readyz, as fastify routes.
import { randomUUID } from "node:crypto";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import type { HttpGatewayConfig } from "../../config/schema.js";
import { ClawError, toClawError } from "../../core/errors.js";
import type { Principal, StreamPart } from "../../core/types.js";
import { bearerToken } from "../bearer-token.js";
import type { Gateway, GatewayContext } from "../gateway.js";
import type { HttpListeners } from "../http-listeners.js";
import { openAiUsage, replyJson } from "./http-io.js";
import { chatCompletionBodySchema, toChatMessages, toParams, type ChatCompletionBody } from "./openai-schema.js";
import { SseChatWriter } from "./sse-chat-writer.js";

export class HttpGateway implements Gateway {
  private boundPort: number | undefined;
  private readonly startedAt = Math.floor(Date.now() / 1000);
  /** The principal each authenticated request carries from its onRequest hook to its handler. */
  private readonly principals = new WeakMap<FastifyRequest, Principal>();

  constructor(
    private readonly config: HttpGatewayConfig,
    private readonly context: GatewayContext,
    private readonly listeners: HttpListeners,
  ) {
    listeners.attach(config, context.logger, { routes: (app) => this.routes(app) });
  }

  get name(): string {
    return `http http://${this.config.host}:${this.boundPort ?? this.config.port}/v1`;
  }

  get port(): number | undefined {
    return this.boundPort;
  }

  /** Open connections on this gateway's port (a WebSocket gateway sharing it included) and the bytes buffered for them. */
  connectionStats(): { open: number; bufferedBytes: number } {
    return this.listeners.stats(this.config.port);
  }

  async start(): Promise<void> {
    this.boundPort = await this.listeners.listen(this.config.port);
  }

  async stop(): Promise<void> {
    await this.listeners.release(this.config.port);
  }

  /** The route table. Fastify adds HEAD to each GET, 404s unknown paths and refuses bodies over max_body before they are read. */
  private routes(app: FastifyInstance): void {
    // The token is checked before the body is read: an anonymous client cannot make the node parse a body.
    const authenticated = { onRequest: (request: FastifyRequest) => this.authenticate(request) };
    app.get("/healthz", async (_request, reply) => replyJson(reply, 200, { status: "ok" }));
    app.get("/readyz", async (_request, reply) => this.readiness(reply));
    app.get("/v1/models", authenticated, async (_request, reply) => {
      replyJson(reply, 200, { object: "list", data: [this.modelCard()] });
    });
    app.post("/v1/chat/completions", { ...authenticated, bodyLimit: this.config.max_body }, async (request, reply) => {
      const body = chatCompletionBodySchema.safeParse(request.body);
      if (!body.success) {
        const issue = body.error.issues[0];
        throw new ClawError("bad_request", `Invalid body: ${issue?.path.join(".") ?? ""}: ${issue?.message ?? "invalid"}`);
      }
      const principal = this.principals.get(request);
      if (!principal) throw new ClawError("internal", "The request reached its handler without a principal.");
      await this.chatCompletion(body.data, principal, reply);
    });
  }

  private readiness(reply: FastifyReply): void {
    if (!this.context.isReady()) return replyJson(reply, 503, { status: "loading" });
    const { info } = this.context.engine;
    // A store whose writes fail (disk full) fails every session request: not ready, so a balancer sends traffic elsewhere.
    const storeFailure = this.context.storeFailure?.();
    const connections = this.connectionStats();
    replyJson(reply, storeFailure ? 503 : 200, {
      status: storeFailure ? "degraded" : "ready",
      store: storeFailure ? { status: "degraded", reason: storeFailure } : { status: "ok" },
      model: info.model,
      engine: info.engine,
      backend: info.backend,
      gpu_devices: info.gpuDevices,
      gpu_layers: info.gpuLayers,
      vram_total_bytes: info.vramTotalBytes,
      vram_used_bytes: info.vramUsedBytes,
      adapters: info.adapters,
      context_size: info.contextSize,
      parallel: info.parallel,
      threads: info.threads,
      ...this.context.engine.load(),
      connections: { open: connections.open, buffered_bytes: connections.bufferedBytes },
    });
  }

  private async authenticate(request: FastifyRequest): Promise<void> {
    this.principals.set(request, await this.context.authenticator.authenticate(bearerToken(request.headers.authorization)));
  }

  private modelCard() {
    return { id: this.context.engine.info.model, object: "model", created: this.startedAt, owned_by: "clawbot" };
  }

  private async chatCompletion(body: ChatCompletionBody, principal: Principal, reply: FastifyReply): Promise<void> {
    const id = `chatcmpl-${randomUUID()}`;
    const model = this.context.engine.info.model;
    const response = reply.raw;
    const controller = new AbortController();
    // The client hung up before the answer was complete: free the sequence at once.
    response.on("close", () => {
      if (!response.writableFinished) controller.abort();
    });
    const pipelineRequest = { id, principal, messages: toChatMessages(body), params: toParams(body), gateway: "http" };
    if (body.stream) {
      // SSE goes straight onto the raw response: no framework work per token. From here this handler owns every error.
      reply.hijack();
      const writer = new SseChatWriter(response, {
        id,
        model,
        includeUsageChunk: body.stream_options?.include_usage === true,
        maxBuffered: this.config.max_buffered,
        slowClientTimeoutMs: this.config.slow_client_timeout * 1000,
        signal: controller.signal,
      });
      try {
        await this.context.pipeline.handle(pipelineRequest, writer, controller.signal);
      } catch (error) {
        writer.write({ type: "error", error: toClawError(error) });
      }
      return;
    }
    let result: StreamPart | undefined;
    await this.context.pipeline.handle(pipelineRequest, { write: (part) => void (part.type !== "text-delta" && (result = part)) }, controller.signal);
    if (!result || result.type === "text-delta") throw new ClawError("internal", "The pipeline ended without an answer.");
    if (result.type === "error") throw result.error;
    replyJson(reply, 200, {
      id,
      object: "chat.completion",
      created: Math.floor(Date.now() / 1000),
      model,
      choices: [{ index: 0, message: { role: "assistant", content: result.text }, finish_reason: result.finishReason, logprobs: null }],
      usage: openAiUsage(result.usage),
    });
  }
}
