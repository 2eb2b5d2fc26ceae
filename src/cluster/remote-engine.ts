// The engine a cluster node's pipeline uses: each generation goes on the JetStream work queue, a worker takes it, and
// its parts come back over core NATS. (Helper A implements this file; the signatures below are the contract.)
import type { ClusterConfig } from "../config/cluster-schema.js";
import type { ChatMessage, ToolDefinition } from "../core/types.js";
import type { EngineInfo, EngineLoad, EnginePart, EngineRequest, LanguageModel } from "../engine/language-model.js";
import type { Logger } from "../logging/logger.js";
import type { ClusterNames } from "./cluster-names.js";
import type { NodeBeat } from "./membership.js";
import type { NatsLink } from "./nats-connection.js";

export interface RemoteEngineOptions {
  link: NatsLink;
  names: ClusterNames;
  config: ClusterConfig;
  nodeId: string;
  /** This node's own engine when it is a worker (counts tokens, names the model; serves requests with `fallback: local`). */
  local: LanguageModel | undefined;
  /** Live nodes (heartbeats): the workers a conversation can go back to, the model and context of a gateway-only node. */
  alive(): NodeBeat[];
  logger: Logger;
  /** Told of each restart (a worker lost mid-generation) and of each request served locally because NATS was down. */
  onRestart?(): void;
  onFallback?(): void;
}

export class RemoteEngine implements LanguageModel {
  constructor(private readonly options: RemoteEngineOptions) {}

  get info(): EngineInfo {
    throw new Error("not implemented yet");
  }

  load(): EngineLoad {
    throw new Error("not implemented yet");
  }

  countPromptTokens(messages: ChatMessage[], tools?: ToolDefinition[]): number {
    void messages;
    void tools;
    throw new Error("not implemented yet");
  }

  // eslint-disable-next-line require-yield
  async *stream(request: EngineRequest, options?: { signal?: AbortSignal }): AsyncGenerator<EnginePart> {
    void request;
    void options;
    throw new Error("not implemented yet");
  }

  async close(): Promise<void> {}
}
