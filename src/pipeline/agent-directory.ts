// Which agent a request runs as: its config (system prompt, params), its engine, its tools and its knowledge collections.
import type { AgentConfig } from "../config/schema.js";
import { ClawError } from "../core/errors.js";
import type { LanguageModel } from "../engine/language-model.js";

/** The name of the agent a request gets when it names none (the top-level `agent` section). */
export const defaultAgentName = "default";

/** One agent, ready to serve a request. */
export interface ResolvedAgent {
  name: string;
  config: AgentConfig;
  /** The node's engine, or the agent's own when it names its own `model_path`. */
  engine: LanguageModel;
  /** Node-side tools it may use (`*` all; `server.*` an MCP server's); the roles' grant narrows it. */
  tools: readonly string[] | "*";
  /** Knowledge collections it reads (undefined: the configured ones); the roles' grant narrows it. */
  collections: readonly string[] | undefined;
}

/** Finds the agent of a request; throws `bad_request` for a name no agent has. */
export interface AgentDirectory {
  /** `name` from the request (params.agent, the OpenAI `model`), else the gateway's default, else the default agent. */
  resolve(name: string | undefined, gateway: string): ResolvedAgent;
  /** Every agent, the default first. */
  list(): ResolvedAgent[];
}

/** The directory of a node with one agent (the `agent` section alone). */
export function singleAgentDirectory(config: AgentConfig, engine: LanguageModel, tools: readonly string[] | "*" = "*"): AgentDirectory {
  const agent: ResolvedAgent = { name: defaultAgentName, config, engine, tools, collections: undefined };
  return {
    resolve(name) {
      if (name !== undefined && name !== defaultAgentName) throw new ClawError("bad_request", `There is no agent named "${name}"; this node serves "${defaultAgentName}".`, { param: "agent" });
      return agent;
    },
    list: () => [agent],
  };
}
