// What a gateway hands the pipeline (one request) and where the pipeline writes its answer (the reply).
import type { ChatMessage, FinishPart, GenerationParams, Principal, StreamPart, ToolChoice, ToolDefinition } from "../core/types.js";
import type { ApproveCall } from "../tools/tool-runner.js";
import type { KnowledgeChoice } from "./knowledge-stage.js";

export interface PipelineRequest {
  /** Client-chosen id, echoed in every part of the reply. */
  id: string;
  /**
   * Stage 1, authenticate, happens in the gateway through its Authenticator (once per connection for
   * WebSocket, per request for HTTP); the pipeline only ever sees verified principals.
   */
  principal: Principal;
  /** The conversation this turn belongs to; history is loaded and the exchange stored when set. */
  session?: string;
  /** The new user turn (WebSocket protocol), used with `session`. */
  message?: string;
  /** A whole conversation (OpenAI API), used as given; a system prompt from config is added when it has none. */
  messages?: ChatMessage[];
  /**
   * Raw text (legacy completions), instead of `message`/`messages`: plugins see it as the input (and no other messages),
   * then it goes to the model as it is, without chat template, system prompt or session.
   */
  prompt?: string;
  params?: Partial<GenerationParams>;
  /** The knowledge base for this turn: `false` none, named collections, or (absent, `true`) the configured ones. */
  knowledge?: KnowledgeChoice;
  /** The gateway it came through ("websocket", "http", "mqtt", a custom protocol's name): for the policy, plugins and logs. */
  gateway: string;
  /** The agent to run as (params.agent, the OpenAI `model` naming one); the gateway's default, else the default agent, when absent. */
  agent?: string;
  /** Whether the model may, must or must not call tools (params.tool_choice, OpenAI `tool_choice`); `auto` when absent. */
  toolChoice?: ToolChoice;
  /**
   * Tools the client runs itself (OpenAI `tools`): offered with the node's; a call of one ends the request with
   * finishReason `tool_calls` and the calls in the finish. One with a node tool's name hides the node's for this request.
   */
  clientTools?: ToolDefinition[];
  /** Asks the client to approve a `confirm: true` tool call (WebSocket); absent: such calls are denied. */
  approve?: ApproveCall;
  /**
   * Optional wrapper of stage 8, record: called with the function that stores the exchange (it must call it) and
   * the finish the client will receive. MQTT runs both in one transaction with its request ledger, so a crash can
   * never leave an exchange stored but its request unmarked (and stored again when the request is resumed).
   */
  recordExchange?(store: () => void, finish: FinishPart): void;
}

/** Where the pipeline writes the answer: text deltas, then one finish or one error. */
export interface Reply {
  /**
   * Writes one part. Returns false when the client's send buffer is above the gateway's limit (`max_buffered`):
   * the pipeline then awaits `drained()` before it pulls the next token, so a reader that does not read
   * never makes the node buffer its answer without bound. Anything else (true, undefined) means "go on".
   */
  write(part: StreamPart): boolean | void;
  /** Resolves once the client has read enough to take more; rejects with `slow_client` when it stays stuck past the gateway's timeout. */
  drained?(): Promise<void>;
}
