// One node-side tool call of the agent loop: the client is told (call, approval, result), the tool runs, observers hear of it.
import type { ToolsConfig } from "../config/schema.js";
import type { ChatMessage, StreamPart, ToolCall } from "../core/types.js";
import type { Logger } from "../logging/logger.js";
import type { ToolRegistry } from "../tools/tool-registry.js";
import { type ApproveCall, ToolRunner } from "../tools/tool-runner.js";
import type { ToolRunContext } from "../tools/tool-types.js";
import type { ToolCallRecord } from "./request-observer.js";
import type { ToolPlan } from "./tool-plan.js";

/** The request a call belongs to: who calls the tool and for which request, and how the client is told and asked. */
export interface ToolStepRequest extends ToolRunContext {
  /** The gateway's approval channel (WebSocket); absent: calls that need approval are denied. */
  approve: ApproveCall | undefined;
  /** Writes a part to the client. */
  write(part: StreamPart): void;
}

export interface ToolStepOptions {
  config: ToolsConfig;
  registry: ToolRegistry | undefined;
  logger: Logger;
}

export class ToolSteps {
  private readonly runner: ToolRunner;
  /** Tools already reported as left out (their schema cannot be enforced while generating): one warning each. */
  private readonly unusable = new Set<string>();

  constructor(private readonly options: ToolStepOptions) {
    this.runner = new ToolRunner({ timeoutMs: options.config.timeout * 1000, maxResultChars: options.config.max_result_chars });
  }

  /**
   * Runs one call: `tool-call`, then `tool-approval` for a tool that needs it, then `tool-result`; `onCalled` hears of it
   * once it ended (the audit record, the metrics). Returns the tool message for the conversation.
   */
  async run(call: ToolCall, plan: ToolPlan, request: ToolStepRequest, onCalled: (record: ToolCallRecord) => void): Promise<ChatMessage> {
    const { approve, write, ...context } = request;
    write({ type: "tool-call", call });
    // The tool sees its run context only (not the client's reply or approval channel).
    const result = await this.runner.run(
      call,
      plan.node,
      context,
      { known: (name) => this.options.registry?.find(name) !== undefined, approve: approve && this.asking(request, approve) },
    );
    write({ type: "tool-result", callId: call.id, name: call.name, outcome: result.outcome, content: result.content, durationMs: result.durationMs });
    onCalled({
      callId: call.id,
      tool: call.name,
      source: result.source,
      agent: request.agent,
      arguments: call.arguments,
      outcome: result.outcome,
      resultChars: result.resultChars,
      durationMs: result.durationMs,
    });
    return { role: "tool", toolCallId: call.id, name: call.name, content: result.content };
  }

  /** Logs once that a tool is left out because its schema cannot be enforced while generating. */
  warnUnusable(name: string, reason: string): void {
    const key = `${name}\u0000${reason}`;
    if (this.unusable.has(key)) return;
    this.unusable.add(key);
    this.options.logger.warn({ tool: name, reason }, "a tool is not offered: its schema cannot be enforced while generating (tools.constrained); set tools.constrained: false or simplify the schema");
  }

  /** The gateway's approval, announced with a `tool-approval` part and bounded by `tools.approval_timeout` and the request's signal. */
  private asking(request: ToolStepRequest, approve: ApproveCall): ApproveCall {
    const timeoutMs = this.options.config.approval_timeout * 1000;
    return async (call) => {
      request.write({ type: "tool-approval", call, timeoutMs });
      let timer: NodeJS.Timeout | undefined;
      const expired = new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), timeoutMs)));
      const cancelled = new Promise<boolean>((resolve) => request.signal.addEventListener("abort", () => resolve(false), { once: true }));
      try {
        return await Promise.race([approve(call), expired, cancelled]);
      } finally {
        clearTimeout(timer);
      }
    };
  }
}

/** The collections a request's tools may read: the roles' grant, narrowed to the agent's collections when it names some. */
export function readableCollections(grant: "*" | ReadonlySet<string>, agentCollections: readonly string[] | undefined): readonly string[] | "*" {
  if (agentCollections === undefined) return grant === "*" ? "*" : [...grant];
  return grant === "*" ? [...agentCollections] : agentCollections.filter((collection) => grant.has(collection));
}
