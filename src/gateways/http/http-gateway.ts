// The HTTP gateway: the OpenAI-compatible /v1/* API, /healthz, /readyz, /admin/*, /auth/login and the web pages (/, /console, /web/*), as fastify routes.
import { randomUUID } from "node:crypto";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import type { HttpGatewayConfig } from "../../config/schema.js";
import { ClawError, toClawError } from "../../core/errors.js";
import type { FinishPart, Principal, StreamPart } from "../../core/types.js";
import { bearerToken } from "../bearer-token.js";
import { certificatePrincipal } from "../client-certificate.js";
import type { ClusterReadiness, Gateway, GatewayContext, GatewayStatus } from "../gateway.js";
import { ignoredGatewayEvents } from "../gateway-events.js";
import type { HttpListeners } from "../http-listeners.js";
import { citationEntries, toKnowledgeChoice } from "../knowledge-field.js";
import { registerAdminRoutes } from "./admin-routes.js";
import { choiceLogprobs } from "./choice-logprobs.js";
import { registerCompletionsRoute } from "./completions-route.js";
import { registerEmbeddingsRoute } from "./embeddings-route.js";
import { openAiUsage, replyJson } from "./http-io.js";
import { invalidBodyError } from "./invalid-body-error.js";
import { chatCompletionBodySchema, toChatMessages, toParams, type ChatCompletionBody } from "./openai-schema.js";
import { toToolChoice } from "../tool-choice-field.js";
import { openAiToolCalls, toClientTools } from "./openai-tools.js";
import { requestSignal } from "./openai-route-context.js";
import { ServedModels } from "./served-models.js";
import { SseChatWriter } from "./sse-chat-writer.js";
import { findUnsupportedField } from "./unsupported-fields.js";
import { alreadyReported } from "./reported-errors.js";
import { toolServerJson } from "./tool-listing.js";
import { ToolStepsField } from "./tool-steps-field.js";
import { registerLoginRoute } from "./login-route.js";
import { registerWebRoutes } from "./web-routes.js";

export class HttpGateway implements Gateway {
  private boundPort: number | undefined;
  private stopped = false;
  /** The names requests may give the model (agent.model_aliases included). */
  private readonly models: ServedModels;
  /** The principal each authenticated request carries from its onRequest hook to its handler. */
  private readonly principals = new WeakMap<FastifyRequest, Principal>();

  constructor(
    private readonly config: HttpGatewayConfig,
    private readonly context: GatewayContext,
    private readonly listeners: HttpListeners,
  ) {
    this.models = new ServedModels(context);
    // This port's connections and requests are reported to this gateway's events (a WebSocket gateway on it reports its upgrades).
    listeners.attach(config, context.logger, { routes: (app) => this.routes(app), events: context.events ?? ignoredGatewayEvents });
  }

  get name(): string {
    return `http ${this.config.tls ? "https" : "http"}://${this.config.host}:${this.boundPort ?? this.config.port}/v1`;
  }

  get port(): number | undefined {
    return this.boundPort;
  }

  /** Open connections on this gateway's port (a WebSocket gateway sharing it included) and the bytes buffered for them. */
  connectionStats(): { open: number; bufferedBytes: number } {
    return this.listeners.stats(this.config.port);
  }

  /** Its connections are its port's HTTP connections: a socket upgraded by a WebSocket gateway on the port is that gateway's. */
  status(): GatewayStatus {
    const state = this.stopped ? "stopped" : this.boundPort === undefined ? "starting" : "listening";
    return { type: "http", name: this.name, state, healthy: state === "listening", connections: state === "listening" ? this.listeners.httpConnections(this.config.port) : 0 };
  }

  async start(): Promise<void> {
    this.boundPort = await this.listeners.listen(this.config.port);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.listeners.release(this.config.port);
  }

  /** The route table. Fastify adds HEAD to each GET, 404s unknown paths and refuses bodies over max_body before they are read. */
  private routes(app: FastifyInstance): void {
    // The token is checked before the body is read: an anonymous client cannot make the node parse a body.
    const authenticated = { onRequest: (request: FastifyRequest) => this.authenticate(request) };
    app.get("/healthz", async (_request, reply) => replyJson(reply, 200, { status: "ok" }));
    app.get("/readyz", async (_request, reply) => this.readiness(reply));
    app.get("/v1/models", authenticated, async (_request, reply) => replyJson(reply, 200, this.models.list()));
    // A wildcard, not `:id`: an alias may hold a slash ("org/model"), as Hugging Face names do.
    app.get<{ Params: { "*": string } }>("/v1/models/*", authenticated, async (request, reply) => {
      replyJson(reply, 200, this.models.retrieve(request.params["*"]));
    });
    app.post("/v1/chat/completions", { ...authenticated, bodyLimit: this.config.max_body }, async (request, reply) => {
      // Unsupported fields first: the client learns which field to drop rather than a schema path.
      const unsupported = findUnsupportedField(request.body);
      if (unsupported) throw unsupported;
      const body = chatCompletionBodySchema.safeParse(request.body);
      if (!body.success) throw invalidBodyError(body.error);
      this.models.check(body.data.model);
      const principal = this.principals.get(request);
      if (!principal) throw new ClawError("internal", "The request reached its handler without a principal.");
      await this.chatCompletion(body.data, principal, reply);
    });
    const route = { config: this.config, context: this.context, models: this.models, authenticated, principalOf: (request: FastifyRequest) => this.principalOf(request) };
    registerEmbeddingsRoute(app, route);
    registerCompletionsRoute(app, route);
    registerAdminRoutes(app, { admin: this.context.admin, authenticated, principalOf: route.principalOf, maxBody: this.config.max_body });
    registerLoginRoute(app, { config: this.config, logger: this.context.logger, events: this.context.events ?? ignoredGatewayEvents });
    if (this.config.web) {
      registerWebRoutes(app, { config: this.config, websocketEndpoints: () => this.context.websocketEndpoints?.() ?? [], boundPort: () => this.boundPort });
    }
  }

  /** The `cluster` block of `/readyz` (absent when the node runs alone). */
  private clusterReadiness(): Record<string, unknown> | undefined {
    let status: ClusterReadiness | undefined;
    try {
      status = this.context.clusterStatus?.();
    } catch (error) {
      // /readyz answers even when a part of the cluster fails to report; the log says which.
      this.context.logger.warn({ err: error }, "reading the cluster status for /readyz failed");
    }
    if (!status) return undefined;
    const { name, nodeId, connected, primary, leader, alive } = status;
    return { name, node_id: nodeId, connected, primary, leader: leader ?? null, nodes_alive: alive.length };
  }

  private principalOf(request: FastifyRequest): Principal {
    const principal = this.principals.get(request);
    if (!principal) throw new ClawError("internal", "The request reached its handler without a principal.");
    return principal;
  }

  private readiness(reply: FastifyReply): void {
    const cluster = this.clusterReadiness();
    // In a cluster, not ready means NATS is away or no worker is alive (unless `fallback: local` serves): unavailable.
    if (!this.context.isReady()) return replyJson(reply, 503, cluster ? { status: "unavailable", cluster } : { status: "loading" });
    const { info } = this.context.engine;
    // A store whose writes fail (disk full) fails every session request: not ready, so a balancer sends traffic elsewhere.
    const storeFailure = this.context.storeFailure?.();
    const connections = this.connectionStats();
    // Every gateway of the node; one that cannot take requests (MQTT away from its broker) makes the node degraded, but
    // still 200: this port serves, so a balancer in front of it keeps sending it traffic.
    const gateways = this.context.gatewayStatuses?.() ?? [this.status()];
    const unhealthy = gateways.filter((gateway) => !gateway.healthy);
    replyJson(reply, storeFailure ? 503 : 200, {
      status: storeFailure || unhealthy.length > 0 ? "degraded" : "ready",
      store: storeFailure ? { status: "degraded", reason: storeFailure } : { status: "ok" },
      gateways: gateways.map(({ type, name, state, healthy, connections }) => ({ type, name, state, healthy, connections })),
      ...(unhealthy.length > 0 ? { degraded_gateways: unhealthy.map((gateway) => gateway.name) } : {}),
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
      // Information only: a tool server that is away costs its tools, not the node's readiness (docs/protocol.md).
      ...(this.context.toolServers ? { mcp_servers: this.context.toolServers().map(toolServerJson) } : {}),
      ...(cluster ? { cluster } : {}),
    });
  }

  private async authenticate(request: FastifyRequest): Promise<void> {
    try {
      // A refused token is reported by the authenticator (authFailed), with the client's address.
      const token = bearerToken(request.headers.authorization);
      // mTLS: a verified client certificate authenticates the request when no bearer token is sent.
      const certified = token === undefined ? certificatePrincipal(request.socket, this.config.tls) : undefined;
      this.principals.set(request, certified ?? (await this.context.authenticator.authenticate(token, request.socket.remoteAddress)));
    } catch (error) {
      throw alreadyReported(error);
    }
  }

  private async chatCompletion(body: ChatCompletionBody, principal: Principal, reply: FastifyReply): Promise<void> {
    const id = `chatcmpl-${randomUUID()}`;
    const model = this.context.engine.info.model;
    const response = reply.raw;
    // The client hung up, or its token was revoked, before the answer was complete: free the sequence at once.
    const signal = requestSignal(reply, this.context, principal);
    const knowledge = toKnowledgeChoice(body.knowledge);
    const clientTools = toClientTools(body.tools);
    const toolChoice = toToolChoice(body.tool_choice ?? undefined);
    const pipelineRequest = {
      id,
      principal,
      messages: toChatMessages(body),
      params: toParams(body),
      gateway: "http",
      agent: this.models.agentFor(body.model),
      ...(knowledge !== undefined ? { knowledge } : {}),
      ...(clientTools ? { clientTools } : {}),
      ...(toolChoice !== undefined ? { toolChoice } : {}),
    };
    if (body.stream) {
      // SSE goes straight onto the raw response: no framework work per token. From here this handler owns every error.
      reply.hijack();
      const writer = new SseChatWriter(response, {
        id,
        model,
        includeUsageChunk: body.stream_options?.include_usage === true,
        maxBuffered: this.config.max_buffered,
        slowClientTimeoutMs: this.config.slow_client_timeout * 1000,
        signal,
      });
      try {
        await this.context.pipeline.handle(pipelineRequest, writer, signal);
      } catch (error) {
        writer.write({ type: "error", error: toClawError(error) });
      }
      return;
    }
    let result: StreamPart | undefined;
    const toolSteps = new ToolStepsField();
    await this.context.pipeline.handle(pipelineRequest, { write: (part) => void (toolSteps.take(part) || ((part.type === "finish" || part.type === "error") && (result = part))) }, signal);
    if (!result || (result.type !== "finish" && result.type !== "error")) throw new ClawError("internal", "The pipeline ended without an answer.");
    // The request observers saw this error: it is not a refused request.
    if (result.type === "error") throw alreadyReported(result.error);
    replyJson(reply, 200, {
      id,
      object: "chat.completion",
      created: Math.floor(Date.now() / 1000),
      model,
      choices: [{ index: 0, message: assistantMessage(result), finish_reason: result.finishReason, logprobs: choiceLogprobs(result.logprobs) }],
      usage: openAiUsage(result.usage),
      // Clawbot extension: the knowledge-base sources the answer was given (only when it had any).
      ...(result.citations && result.citations.length > 0 ? { citations: citationEntries(result.citations) } : {}),
      // Clawbot extension: the tool calls the node ran itself (plugins, MCP servers, built-ins), when any.
      ...toolSteps.fields(),
    });
  }
}

/** The answer's message: its text, or (calls of the client's tools) the calls, with any text before them or null. */
function assistantMessage(finish: FinishPart): Record<string, unknown> {
  if (!finish.toolCalls || finish.toolCalls.length === 0) return { role: "assistant", content: finish.text };
  return { role: "assistant", content: finish.text === "" ? null : finish.text, tool_calls: openAiToolCalls(finish.toolCalls) };
}
