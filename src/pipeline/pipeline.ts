// The one request path every gateway uses: authenticate → authorize → session → preProcess → retrieve → build prompt → generate →
// postProcess → record.
import { randomUUID } from "node:crypto";
import { limitsSchema, toolsSchema, type AgentConfig, type LimitsConfig, type ToolsConfig } from "../config/schema.js";
import { ClawError, toClawError } from "../core/errors.js";
import type { ChatMessage, Citation, FinishPart, GenerationParams, StreamPart, TokenLogprob } from "../core/types.js";
import type { LanguageModel } from "../engine/language-model.js";
import type { Logger } from "../logging/logger.js";
import type { Authorization, AuthorizeRequest } from "../security/policy/authorizer.js";
import { grants } from "../security/policy/role-grant.js";
import type { ToolRegistry } from "../tools/tool-registry.js";
import { type AgentDirectory, type ResolvedAgent, singleAgentDirectory } from "./agent-directory.js";
import { createPluginContext } from "../plugins/plugin-context.js";
import { PluginHost } from "../plugins/plugin-host.js";
import { storageError } from "../store/storage-error.js";
import type { ExchangeTokens } from "../store/session-repository.js";
import type { SessionStore } from "../store/session-store.js";
import { splitConversation } from "./conversation.js";
import type { KnowledgeStage } from "./knowledge-stage.js";
import type { RequestEnd, RequestObserver, RequestStart, RequestTexts } from "./request-observer.js";
import { buildPrompt, messageTokens, promptBudget, tokenCountKey, tokenizerId } from "./prompt-builder.js";
import { SubjectLimits } from "./subject-limits.js";
import { runAgentLoop } from "./agent-loop.js";
import { GenerationMark } from "./generation-mark.js";
import { planTools, type ToolPlan } from "./tool-plan.js";
import { readableCollections, ToolSteps } from "./tool-step.js";
import type { PipelineRequest, Reply } from "./pipeline-request.js";

export type { PipelineRequest, Reply } from "./pipeline-request.js";

export interface PipelineOptions {
  agent: AgentConfig;
  engine: LanguageModel;
  sessions: SessionStore;
  logger: Logger;
  /** The configured plugins; none when absent. */
  plugins?: PluginHost;
  /** Per-subject request cap and queue share (config `limits`); the defaults when absent. */
  limits?: LimitsConfig;
  /**
   * Told of every request, in this order (the audit ledger first: when its `finished` throws, the later ones are not
   * told of a finish the client never gets).
   */
  observers?: RequestObserver[];
  /**
   * Runs stage 8 (storing the exchange, then every observer's `finished`) as one unit, so an exchange is never stored
   * for an answer whose audit record could not be written: the node's database transaction. Without it, in sequence.
   */
  transaction?<Result>(work: () => Result): Result;
  /**
   * Stage 2, authorize (the security policy, src/security/policy): allows each request or throws the ClawError that
   * refuses it (`forbidden`, `rate_limited`). Every request is allowed when absent.
   */
  authorize?(request: AuthorizeRequest): Authorization;
  /** Stage 4b, retrieve (config `knowledge.enabled`): the knowledge base's chunks put into each new turn. None when absent. */
  knowledge?: KnowledgeStage;
  /** The agents (config `agents`); the `agent` and `engine` above alone as "default" when absent. */
  agents?: AgentDirectory;
  /** Node-side tools (plugins, MCP servers, built-ins); none when absent. */
  tools?: ToolRegistry;
  /** Config `tools` (the agent loop's limits); the defaults when absent. */
  toolsConfig?: ToolsConfig;
}

export class Pipeline {
  private readonly inFlight = new Set<AbortController>();
  private accepting = true;
  readonly plugins: PluginHost;
  /** Requests running or queued per token subject, over every gateway. */
  readonly subjectLimits: SubjectLimits;
  readonly agents: AgentDirectory;
  private readonly toolsConfig: ToolsConfig;
  private readonly toolSteps: ToolSteps;

  constructor(private readonly options: PipelineOptions) {
    this.plugins = options.plugins ?? PluginHost.empty(options.logger);
    this.subjectLimits = new SubjectLimits(options.limits ?? limitsSchema.parse({}));
    this.toolsConfig = options.toolsConfig ?? toolsSchema.parse({});
    this.agents = options.agents ?? singleAgentDirectory(options.agent, options.engine, this.toolsConfig.allow.includes("*") ? "*" : this.toolsConfig.allow);
    this.toolSteps = new ToolSteps({ config: this.toolsConfig, registry: options.tools, logger: options.logger });
  }

  /** Runs one request to its end. Never throws: every failure is written to the reply as a coded error. */
  async handle(request: PipelineRequest, reply: Reply, signal?: AbortSignal): Promise<void> {
    const startedAt = performance.now();
    const controller = new AbortController();
    const forwardAbort = () => controller.abort();
    signal?.addEventListener("abort", forwardAbort, { once: true });
    if (signal?.aborted) controller.abort();
    this.inFlight.add(controller);
    const { sessions } = this.options;
    // An unknown agent name fails the request below, like any refusal (it still gets its start and failure records).
    let resolved: ResolvedAgent;
    let agentError: unknown;
    try {
      resolved = this.agents.resolve(request.agent, request.gateway);
    } catch (error) {
      resolved = this.agents.list()[0] as ResolvedAgent;
      agentError = error;
    }
    const { config: agent, engine } = resolved;
    const params = resolveParams(agent, request.params);
    const start: RequestStart = {
      requestId: randomUUID(),
      clientRequestId: request.id,
      gateway: request.gateway ?? "unknown",
      principal: request.principal,
      session: request.session,
      model: engine.info.model,
      agent: resolved.name,
      params,
      receivedAt: Date.now(),
    };
    const texts: RequestTexts = { receivedInput: undefined, processedInput: undefined, generatedOutput: "", deliveredOutput: "" };
    let metadata: Record<string, unknown> = {};
    let firstTokenMs: number | undefined;
    /** The knowledge-base chunks put into the prompt, when any were. */
    let citations: Citation[] | undefined;
    this.notify("accepted", start);
    let releaseSubject: (() => void) | undefined;
    let authorization: Authorization | undefined;
    /** Set once the finish is written: a request ends with exactly one finish or one error. */
    let finished = false;
    try {
      if (!this.accepting) throw new ClawError("unavailable", "The node is shutting down.");
      if (agentError) throw agentError;
      // Stage 2, authorize: the policy in force now decides on this request, which keeps that policy to its end.
      authorization = this.authorize({ principal: request.principal, gateway: start.gateway, requested: request.params ?? {}, defaultMaxTokens: params.maxTokens });
      if (authorization) params.maxTokens = authorization.maxTokens;
      // The roles decide the output watermark; clients cannot (resolveParams never takes it from a request).
      if (authorization?.watermark !== undefined) params.watermark = authorization.watermark;
      if (authorization && !grants(authorization.agents, resolved.name)) throw new ClawError("forbidden", `Your roles may not use the agent "${resolved.name}".`, { param: "agent" });
      // The tools this request may call: the agent's and the roles' grants, and the client's own (OpenAI API).
      const toolPlan = request.prompt !== undefined ? undefined : planTools({
        registry: this.options.tools,
        config: this.toolsConfig,
        agentAllow: resolved.tools,
        roleGrant: authorization?.tools ?? "*",
        clientTools: request.clientTools,
        choice: request.toolChoice,
        onUnusable: (tool, reason) => this.toolSteps.warnUnusable(tool.name, reason),
      });
      // Per-subject fairness: one user's requests cannot take every sequence or fill the queue for everyone.
      releaseSubject = this.subjectLimits.admit(request.principal.subject);
      // Stage 3, session: the stored history of this principal's session.
      // Only the newest messages that can fit are read, with their stored token counts: a long history costs a turn no more than a short one.
      const countedBy = tokenizerId(engine);
      const tail =
        request.session && request.messages === undefined && request.prompt === undefined
          ? sessions.recentHistory(request.principal.subject, request.session, {
              maxTokens: promptBudget(engine.info.contextSize, params.maxTokens),
              countedBy,
              count: (message) => messageTokens(engine, message),
            })
          : undefined;
      const conversation = splitConversation(request, tail?.messages ?? []);
      texts.receivedInput = conversation.input;
      // Stage 4, preProcess: plugins in config order may rewrite the input and the other messages, or refuse.
      const context = createPluginContext({
        input: conversation.input,
        messages: conversation.messages,
        principal: request.principal,
        session: request.session,
        requestId: request.id,
        gateway: request.gateway,
      });
      metadata = context.metadata;
      await this.plugins.preProcess(context);
      metadata = context.metadata;
      texts.processedInput = context.input;
      const raw = request.prompt !== undefined;
      // Stage 4b, retrieve: the knowledge base's top chunks go into the new turn (after the history, which stays cached),
      // with numbered source tags, within their own token budget; the finish cites them.
      let turn = conversation.hasTurn ? context.input : undefined;
      if (turn !== undefined && !raw && this.options.knowledge) {
        const system: ChatMessage[] = agent.system_prompt ? [{ role: "system", content: agent.system_prompt }] : [];
        const retrieved = await this.options.knowledge.retrieve({
          turn,
          choice: request.knowledge ?? (resolved.collections ? { collections: [...resolved.collections] } : undefined),
          granted: authorization?.collections,
          engine,
          fixedMessages: conversation.whole ? [...(context.messages.some((message) => message.role === "system") ? [] : system), ...context.messages] : system,
          maxTokens: params.maxTokens,
          signal: controller.signal,
        });
        turn = retrieved.turn;
        if (retrieved.citations.length > 0) citations = retrieved.citations;
      }
      // Stage 5, build prompt: system prompt + history (trimmed oldest-first) + the new turn, as plugins left them.
      const tokenCounts = tail && new Map(tail.messages.map((message, index) => [tokenCountKey(message), tail.tokens[index] as number]));
      const messages = raw ? [] : buildPrompt({
        agent,
        engine,
        messages: context.messages,
        turn,
        whole: conversation.whole,
        maxTokens: params.maxTokens,
        tools: toolPlan?.definitions,
        tokenCounts,
        firstPosition: tail?.firstPosition,
      });
      // Stage 6, generate; stage 7, postProcess: every delta passes the plugins' output processing before it is written.
      let output = await this.plugins.createOutput(context);
      /** Writes a delta; false when the client's buffer is full and the next token must wait for `drained()`. */
      // Token logprobs (when asked) go with the text of their tokens, unless a plugin may rewrite that text; the finish
      // carries them all.
      const logprobs: TokenLogprob[] | undefined = params.logprobs && !output.rewrites ? [] : undefined;
      const deliver = (text: string, tokenLogprobs?: TokenLogprob[]): boolean => {
        if (text === "") return true;
        texts.deliveredOutput += text;
        if (tokenLogprobs && logprobs) {
          for (const entry of tokenLogprobs) logprobs.push(entry);
          return reply.write({ type: "text-delta", text, logprobs: tokenLogprobs }) !== false;
        }
        return reply.write({ type: "text-delta", text }) !== false;
      };
      const conversationKey = request.session && !raw ? JSON.stringify([request.principal.subject, request.session]) : undefined;
      const owner = this.subjectLimits.queueOwner(request.principal.subject, engine.info.maxQueue);
      const prompt = raw ? context.input : undefined;
      // Stage 6, generate, in the agent loop: node-side tool calls run between generations (src/pipeline/agent-loop.ts).
      const stepRequest = {
        principal: request.principal,
        requestId: request.id,
        gateway: start.gateway,
        session: request.session,
        agent: resolved.name,
        collections: readableCollections(authorization?.collections ?? "*", resolved.collections),
        approve: request.approve,
        write: (part: StreamPart) => void reply.write(part),
        signal: controller.signal,
      };
      const generation = new GenerationMark(texts, logprobs);
      const { finish: part, steps: toolSteps } = await runAgentLoop({
        engine,
        request: { messages, prompt, params, conversation: conversationKey, owner },
        plan: toolPlan,
        signal: controller.signal,
        onText: async (text, tokenLogprobs) => {
          if (firstTokenMs === undefined) {
            firstTokenMs = performance.now() - startedAt;
            this.notify("firstToken", start, firstTokenMs);
          }
          texts.generatedOutput += text;
          // Backpressure: a client that does not read holds its own generation, not the node's memory.
          if (!deliver(await output.push(text), tokenLogprobs) && reply.drained) await reply.drained();
        },
        // A cluster's worker was lost mid-generation and another one starts it again: the client is told to drop what it
        // got of this generation; the plugins' output processing starts afresh.
        onRestart: async (part) => {
          const earlier = generation.rewind();
          output = await this.plugins.createOutput(context);
          // The earlier steps' text goes through the new processing again (a buffering plugin's postProcess needs the whole
          // answer; a transform holds back the same tail), its output dropped: the client already has it.
          if (earlier !== "") await output.push(earlier);
          reply.write(part);
        },
        runCall: async (call) => {
          const result = await this.toolSteps.run(call, toolPlan as ToolPlan, stepRequest, (record) => this.notify("toolCalled", start, record));
          generation.set();
          return result;
        },
      });
      authorization?.finished(part.usage);
      deliver(await output.finish());
      const delivered = texts.deliveredOutput;
      // Stage 8, record: the processed input and the delivered answer, so nothing a plugin masked is stored; then the
      // observers (the audit record). All before the finish is written: when storing fails (disk full), the client gets
      // one storage_error instead of a finish for an exchange that was never stored or audited.
      const finishPart: FinishPart = { ...part, text: delivered, ...(logprobs ? { logprobs } : {}), ...(citations ? { citations } : {}) };
      const end = this.ending(start, texts, metadata, { outcome: part.finishReason, error: undefined, usage: part.usage, timings: part.timings, citations });
      const storeExchange = request.session && request.message !== undefined && part.finishReason !== "cancelled";
      try {
        this.inTransaction(() => {
          if (storeExchange && request.session) {
            const tokens = exchangeTokens(engine, countedBy, context.input, delivered);
            const { subject } = request.principal;
            const session = request.session;
            const store = () => sessions.appendExchange(subject, session, context.input, delivered, tokens, toolSteps);
            // A gateway's own record (the MQTT ledger) fails like the session store: a coded storage_error.
            if (request.recordExchange) request.recordExchange(store, finishPart);
            else store();
          }
          for (const observer of this.observers) observer.finished?.(end);
        });
      } catch (error) {
        throw storageError("Recording the exchange", error);
      }
      // The finish text is what the client received, delta by delta.
      finished = true;
      reply.write(finishPart);
    } catch (error) {
      const clawError = toClawError(error);
      if (finished) {
        this.options.logger.error({ err: error, request: request.id }, "request failed after its finish was written");
        return;
      }
      const elapsed = performance.now() - startedAt;
      const zeroUsage = { promptTokens: 0, completionTokens: 0 };
      if (clawError.code === "cancelled") {
        // Cancelled while still queued: it ends like any cancelled answer, with nothing generated.
        const timings = { queueMs: elapsed, ttftMs: elapsed, totalMs: elapsed };
        const end = this.ending(start, texts, metadata, { outcome: "cancelled", error: undefined, usage: zeroUsage, timings });
        try {
          for (const observer of this.observers) observer.finished?.(end);
        } catch (observerError) {
          this.options.logger.error({ err: observerError, request: request.id }, "recording a cancelled request failed");
        }
        reply.write({ type: "finish", text: "", finishReason: "cancelled", usage: zeroUsage, timings });
        return;
      }
      if (clawError.code === "internal") this.options.logger.error({ err: error, request: request.id }, "request failed");
      const timings = { queueMs: elapsed, ttftMs: firstTokenMs ?? elapsed, totalMs: elapsed };
      this.notify("failed", this.ending(start, texts, metadata, { outcome: clawError.code, error: clawError, usage: zeroUsage, timings }));
      reply.write({ type: "error", error: clawError });
    } finally {
      signal?.removeEventListener("abort", forwardAbort);
      this.inFlight.delete(controller);
      releaseSubject?.();
      authorization?.release();
    }
  }

  /**
   * Stage 2 alone, for requests that do not take the whole path (embeddings): throws the refusal; undefined when every
   * request is allowed. The caller releases what it returns.
   */
  authorize(request: AuthorizeRequest): Authorization | undefined {
    return this.options.authorize?.(request);
  }

  private get observers(): RequestObserver[] {
    return this.options.observers ?? [];
  }

  private inTransaction(work: () => void): void {
    if (this.options.transaction) this.options.transaction(work);
    else work();
  }

  private ending(
    start: RequestStart,
    texts: RequestTexts,
    metadata: Record<string, unknown>,
    result: Pick<RequestEnd, "outcome" | "error" | "usage" | "timings" | "citations">,
  ): RequestEnd {
    return { ...start, ...texts, ...result, plugins: this.plugins.plugins.map((plugin) => plugin.name), pluginMetadata: metadata };
  }

  /** Tells every observer; one that throws is logged and skipped (only `finished` may fail a request). */
  private notify<Event extends "accepted" | "firstToken" | "failed" | "toolCalled">(event: Event, ...values: Parameters<NonNullable<RequestObserver[Event]>>): void {
    for (const observer of this.observers) {
      try {
        (observer[event] as ((...args: typeof values) => void) | undefined)?.(...values);
      } catch (error) {
        this.options.logger.error({ err: error, event }, "a request observer failed");
      }
    }
  }

  /**
   * Stops accepting requests, lets in-flight answers finish for up to `graceMs`, then cancels the rest
   * (they finish with finishReason "cancelled").
   */
  async drain(graceMs: number): Promise<void> {
    this.accepting = false;
    const deadline = Date.now() + graceMs;
    while (this.inFlight.size > 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 25));
    for (const controller of this.inFlight) controller.abort();
    while (this.inFlight.size > 0) await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

function resolveParams(agent: AgentConfig, given: Partial<GenerationParams> = {}): GenerationParams {
  return {
    maxTokens: given.maxTokens ?? agent.max_tokens,
    temperature: given.temperature ?? agent.temperature,
    topP: given.topP ?? agent.top_p,
    seed: given.seed,
    stop: given.stop,
    adapter: given.adapter,
    responseFormat: given.responseFormat,
    logprobs: given.logprobs,
  };
}

/** Token counts of a question and its answer, stored with them; none when counting fails (they are counted when next read). */
function exchangeTokens(engine: LanguageModel, countedBy: string, user: string, assistant: string): ExchangeTokens | undefined {
  try {
    return { user: messageTokens(engine, { role: "user", content: user }), assistant: messageTokens(engine, { role: "assistant", content: assistant }), countedBy };
  } catch {
    return undefined;
  }
}

