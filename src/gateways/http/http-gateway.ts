// The OpenAI-compatible HTTP gateway: /v1/chat/completions (JSON or SSE), /v1/models, /healthz, /readyz.
import { randomUUID } from "node:crypto";
import type http from "node:http";
import type { HttpGatewayConfig } from "../../config/schema.js";
import { ClawError, toClawError } from "../../core/errors.js";
import type { Principal, StreamPart } from "../../core/types.js";
import { bearerToken } from "../bearer-token.js";
import type { Gateway, GatewayContext } from "../gateway.js";
import type { HttpListeners } from "../http-listeners.js";
import { openAiUsage, readJsonBody, sendError, sendJson } from "./http-io.js";
import { chatCompletionBodySchema, toChatMessages, toParams, type ChatCompletionBody } from "./openai-schema.js";
import { SseChatWriter } from "./sse-chat-writer.js";

export class HttpGateway implements Gateway {
  private boundPort: number | undefined;
  private readonly startedAt = Math.floor(Date.now() / 1000);

  constructor(
    private readonly config: HttpGatewayConfig,
    private readonly context: GatewayContext,
    private readonly listeners: HttpListeners,
  ) {
    listeners.attach(config.host, config.port, { request: (request, response) => void this.route(request, response) });
  }

  get name(): string {
    return `http http://${this.config.host}:${this.boundPort ?? this.config.port}/v1`;
  }

  get port(): number | undefined {
    return this.boundPort;
  }

  async start(): Promise<void> {
    this.boundPort = await this.listeners.listen(this.config.port);
  }

  async stop(): Promise<void> {
    await this.listeners.release(this.config.port);
  }

  private async route(request: http.IncomingMessage, response: http.ServerResponse): Promise<void> {
    const path = new URL(request.url ?? "/", "http://localhost").pathname;
    try {
      if (path === "/healthz") return await expectMethod(request, "GET", async () => sendJson(response, 200, { status: "ok" }));
      if (path === "/readyz") return await expectMethod(request, "GET", async () => this.readiness(response));
      if (path === "/v1/models") {
        return await expectMethod(request, "GET", async () => {
          await this.authenticate(request);
          sendJson(response, 200, { object: "list", data: [this.modelCard()] });
        });
      }
      if (path === "/v1/chat/completions") {
        return await expectMethod(request, "POST", async () => {
          const principal = await this.authenticate(request);
          const body = chatCompletionBodySchema.safeParse(await readJsonBody(request, this.config.max_body));
          if (!body.success) {
            const issue = body.error.issues[0];
            throw new ClawError("bad_request", `Invalid body: ${issue?.path.join(".") ?? ""}: ${issue?.message ?? "invalid"}`);
          }
          await this.chatCompletion(body.data, principal, request, response);
        });
      }
      throw new ClawError("not_found", `No route ${request.method} ${path}`);
    } catch (error) {
      sendError(response, toClawError(error));
    }
  }

  private readiness(response: http.ServerResponse): void {
    if (!this.context.isReady()) return sendJson(response, 503, { status: "loading" });
    const { info } = this.context.engine;
    sendJson(response, 200, {
      status: "ready",
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
    });
  }

  private async authenticate(request: http.IncomingMessage): Promise<Principal> {
    return this.context.authenticator.authenticate(bearerToken(request.headers.authorization));
  }

  private modelCard() {
    return { id: this.context.engine.info.model, object: "model", created: this.startedAt, owned_by: "clawbot" };
  }

  private async chatCompletion(
    body: ChatCompletionBody,
    principal: Principal,
    request: http.IncomingMessage,
    response: http.ServerResponse,
  ): Promise<void> {
    const id = `chatcmpl-${randomUUID()}`;
    const model = this.context.engine.info.model;
    const controller = new AbortController();
    // The client hung up before the answer was complete: free the sequence at once.
    response.on("close", () => {
      if (!response.writableFinished) controller.abort();
    });
    const pipelineRequest = { id, principal, messages: toChatMessages(body), params: toParams(body), gateway: "http" };
    if (body.stream) {
      const writer = new SseChatWriter(response, { id, model, includeUsageChunk: body.stream_options?.include_usage === true });
      await this.context.pipeline.handle(pipelineRequest, writer, controller.signal);
      return;
    }
    let result: StreamPart | undefined;
    await this.context.pipeline.handle(pipelineRequest, { write: (part) => void (part.type !== "text-delta" && (result = part)) }, controller.signal);
    if (!result || result.type === "text-delta") throw new ClawError("internal", "The pipeline ended without an answer.");
    if (result.type === "error") throw result.error;
    sendJson(response, 200, {
      id,
      object: "chat.completion",
      created: Math.floor(Date.now() / 1000),
      model,
      choices: [{ index: 0, message: { role: "assistant", content: result.text }, finish_reason: result.finishReason, logprobs: null }],
      usage: openAiUsage(result.usage),
    });
  }
}

async function expectMethod(request: http.IncomingMessage, method: string, run: () => Promise<void>): Promise<void> {
  if (request.method !== method) throw new ClawError("not_found", `${request.method} is not served here; use ${method}.`);
  await run();
}
