// The model names the OpenAI API answers to (the loaded model, agent.model_aliases, the agents and theirs) and their OpenAI model objects.
import { ClawError } from "../../core/errors.js";
import { type AgentDirectory, defaultAgentName, type ResolvedAgent } from "../../pipeline/agent-directory.js";
import type { GatewayContext } from "../gateway.js";

/** OpenAI's model object. */
export interface OpenAiModel {
  id: string;
  object: "model";
  created: number;
  owned_by: string;
}

export class ServedModels {
  private readonly created = Math.floor(Date.now() / 1000);

  /** `pipeline.agents`: the agents (config `agents`) whose names and aliases select them; only the model's names without it. */
  constructor(private readonly context: Pick<GatewayContext, "engine" | "isReady" | "modelAliases"> & { pipeline?: { agents: AgentDirectory } }) {}

  /** The loaded model's name: what every answer's `model` field says, whichever served name the request used. */
  get model(): string {
    return this.context.engine.info.model;
  }

  /** Every name a request may use: the model first, then its aliases in config order, then each agent's name and aliases (each once). */
  names(): string[] {
    const agents = this.agents().flatMap((agent) => [agent.name, ...agent.config.model_aliases]);
    return [...new Set([this.model, ...(this.context.modelAliases ?? []), ...agents])];
  }

  /**
   * The agent a request's `model` selects: an agent's name or one of its aliases (these win over the model's own
   * names); undefined for the model's names and an absent name (the gateway's default agent then, else the default).
   */
  agentFor(requested: string | null | undefined): string | undefined {
    if (requested === undefined || requested === null || requested === "") return undefined;
    return this.agents().find((agent) => agent.name === requested || agent.config.model_aliases.includes(requested))?.name;
  }

  /** `GET /v1/models`: every served name (the model, its aliases, each agent and its aliases) as a model object. */
  list(): { object: "list"; data: OpenAiModel[] } {
    return { object: "list", data: this.names().map((name) => this.card(name)) };
  }

  /** `GET /v1/models/{id}`: the object for a served name (an alias keeps its own id, as OpenAI's aliases do), else model_not_found. */
  retrieve(id: string): OpenAiModel {
    if (!this.names().includes(id)) this.refuse(id);
    return this.card(id);
  }

  /**
   * Checks a request's `model` field. Absent or empty means the served model (clients such as curl one-liners
   * omit it); any other name that is neither the model nor an alias is model_not_found.
   */
  check(requested: string | null | undefined): void {
    if (requested === undefined || requested === null || requested === "") return;
    if (!this.names().includes(requested)) this.refuse(requested);
  }

  /** The agents of `agents` (the default agent answers to the model's names). */
  private agents(): ResolvedAgent[] {
    return (this.context.pipeline?.agents.list() ?? []).filter((agent) => agent.name !== defaultAgentName);
  }

  private refuse(requested: string): never {
    // While the model loads its name may not be known yet (the default model): say so rather than "not found".
    if (!this.context.isReady()) throw new ClawError("unavailable", "The model is still loading; retry when /readyz says ready.");
    throw new ClawError("model_not_found", modelNotFoundMessage(requested, this.names()), { param: "model" });
  }

  private card(id: string): OpenAiModel {
    return { id, object: "model", created: this.created, owned_by: "clawbot" };
  }
}

function modelNotFoundMessage(requested: string, names: string[]): string {
  const shown = requested.length > 200 ? `${requested.slice(0, 200)}…` : requested;
  const served = names.map((name) => `"${name}"`).join(", ");
  return `The model "${shown}" is not served by this node. It serves ${served}; omit "model" to use it, or add the name to agent.model_aliases.`;
}
