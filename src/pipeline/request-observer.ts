// The pipeline's one observer seam: what happened to each request, for the metrics, the audit ledger and the request log.
import type { ClawError, ErrorCode } from "../core/errors.js";
import type { Citation, FinishReason, GenerationParams, Principal, Timings, TokenLogprob, ToolOutcome, Usage } from "../core/types.js";

/** A request the pipeline took; every one ends in exactly one `finished` or `failed`. */
export interface RequestStart {
  /** Node-unique id of this request (a UUID), for logs and the audit ledger. */
  requestId: string;
  /** The id the client gave (echoed in its reply); unique only per client. */
  clientRequestId: string;
  /** The gateway it came through ("websocket", "http", "mqtt", a custom protocol's name), "unknown" when not given. */
  gateway: string;
  principal: Principal;
  session: string | undefined;
  /** The served model's name (the agent's own, when it has one). */
  model: string;
  /** The agent it ran as ("default" unless `agents` names others). */
  agent: string;
  params: GenerationParams;
  /** Epoch milliseconds when the pipeline took it. */
  receivedAt: number;
}

/** The texts of one request, as received and as the plugins left them. */
export interface RequestTexts {
  /** The new input as the client sent it (undefined when the request failed before it was read). */
  receivedInput: string | undefined;
  /** The input after preProcess: what the model saw (undefined when a plugin refused it or it failed before). */
  processedInput: string | undefined;
  /** What the model generated, before postProcess. */
  generatedOutput: string;
  /** What the client received, after postProcess. */
  deliveredOutput: string;
}

export interface RequestEnd extends RequestStart, RequestTexts {
  /** How it ended: the finish reason, or the error's code. */
  outcome: FinishReason | ErrorCode;
  /** The error, when it failed. */
  error: ClawError | undefined;
  /** Plugins that ran on it, in order. */
  plugins: string[];
  /** What plugins left in `PluginContext.metadata` (the redactor's counts under `redact`). */
  pluginMetadata: Record<string, unknown>;
  usage: Usage;
  timings: Timings;
  /** The knowledge-base chunks put into the prompt (audited: what was retrieved for whom); undefined when none were. */
  citations?: Citation[];
  /** Token logprobs, when asked for (not audited; here for completeness of the finish). */
  logprobs?: TokenLogprob[];
}

/** One node-side tool call of a request (an audit record of its own: who, which tool, arguments, result size, time, outcome). */
export interface ToolCallRecord {
  callId: string;
  tool: string;
  /** `plugin:<name>`, `mcp:<server>`, `builtin`; undefined when the call named no known tool. */
  source: string | undefined;
  agent: string;
  /** The arguments' JSON text as the model wrote it. */
  arguments: string;
  outcome: ToolOutcome;
  /** Characters of the result (before it was cut for the model). */
  resultChars: number;
  durationMs: number;
}

/**
 * Subscribes to the pipeline. `accepted` and `firstToken` must not throw (their errors are logged and ignored).
 * `finished` runs before the finish is written to the client: when it throws (the audit ledger cannot be written), the
 * client gets a `storage_error` instead of an answer that was never recorded, and `failed` follows. `failed` runs before
 * the error is written; its errors are logged.
 */
export interface RequestObserver {
  accepted?(request: RequestStart): void;
  firstToken?(request: RequestStart, ttftMs: number): void;
  /** A node-side tool call ended (however it ended); must not throw. */
  toolCalled?(request: RequestStart, call: ToolCallRecord): void;
  finished?(request: RequestEnd): void;
  failed?(request: RequestEnd): void;
}
