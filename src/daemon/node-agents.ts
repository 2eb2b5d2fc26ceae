// The node's agents (config `agents` and the top-level `agent` as "default"): their configs, engines, tools and collections,
// and the gateways' default agents, as the pipeline's agent directory.
import path from "node:path";
import type { AgentEntry } from "../config/agents-schema.js";
import { ConfigError } from "../config/load.js";
import type { AgentConfig, ClawbotConfig, GatewayConfig } from "../config/schema.js";
import { ClawError } from "../core/errors.js";
import { createEngine } from "../engine/create-engine.js";
import { DeferredEngine } from "../engine/deferred-engine.js";
import type { LanguageModel } from "../engine/language-model.js";
import type { Logger } from "../logging/logger.js";
import { modelCacheDir } from "../models/default-model.js";
import { ModelNotFoundError, resolveModel } from "../models/model-resolver.js";
import { type AgentDirectory, defaultAgentName, type ResolvedAgent } from "../pipeline/agent-directory.js";

export interface NodeAgentsOptions {
  /** The node's engine (the top-level agent's), shared by every agent without its own `model_path`. */
  engine: LanguageModel;
  /** The gateway entries as the daemon runs them (custom entries naming a built-in protocol resolved). */
  gateways: readonly GatewayConfig[];
  /** Directory relative paths in the config resolve against. */
  baseDir: string;
  /** The node's data directory (an own engine's saved conversation states go under `agents/<name>/`). */
  dataDir: string;
  logger: Logger;
  environment?: NodeJS.ProcessEnv;
}

/** The agents of a node: the directory requests are resolved with, and the engines of agents with their own model. */
export interface NodeAgents {
  readonly directory: AgentDirectory;
  /** Loads every agent's own engine (after the node's); requests to one still loading get `unavailable`. */
  load(): Promise<void>;
  /** Closes the agents' own engines (never the node's). */
  close(): Promise<void>;
}

/** An engine of agents with their own model file: one per file, whichever agents name it. */
interface OwnEngine {
  modelPath: string;
  /** The first agent naming the file: its saved states go under `data_dir/agents/<name>`. */
  agent: AgentConfig;
  owner: string;
  deferred: DeferredEngine;
}

/**
 * Builds the agents from the config. Throws a ConfigError naming the key path for a gateway `agent` no agent has, for
 * gateways of one type that give different default agents, and for an agent `model_path` that is neither a file nor a
 * cached model.
 */
export async function openNodeAgents(config: ClawbotConfig, options: NodeAgentsOptions): Promise<NodeAgents> {
  const names = [defaultAgentName, ...config.agents.map((agent) => agent.name)];
  const gatewayDefaults = defaultAgentsByGateway(options.gateways, names);
  const ownEngines = new Map<string, OwnEngine>();
  const agents: ResolvedAgent[] = [
    { name: defaultAgentName, config: config.agent, engine: options.engine, tools: toolGrant(config.tools.allow), collections: undefined },
  ];
  for (const [index, entry] of config.agents.entries()) {
    const agentConfig = agentConfigOf(config.agent, entry);
    let engine = options.engine;
    if (entry.model_path !== undefined) {
      const modelPath = await agentModelPath(entry.model_path, `agents[${index}].model_path`, options);
      let own = ownEngines.get(modelPath);
      if (!own) {
        own = { modelPath, agent: agentConfig, owner: entry.name, deferred: new DeferredEngine(placeholderInfo(agentConfig, modelPath)) };
        ownEngines.set(modelPath, own);
      }
      engine = own.deferred;
    }
    agents.push({
      name: entry.name,
      config: agentConfig,
      engine,
      tools: toolGrant(entry.tools ?? config.tools.allow),
      collections: entry.knowledge ? [...entry.knowledge.collections] : undefined,
    });
  }
  const byName = new Map(agents.map((agent) => [agent.name, agent]));
  const directory: AgentDirectory = {
    resolve(name, gateway) {
      const chosen = name ?? gatewayDefaults.get(gateway) ?? defaultAgentName;
      const agent = byName.get(chosen);
      if (!agent) throw new ClawError("bad_request", unknownAgentMessage(chosen, names), { param: "agent" });
      return agent;
    },
    list: () => [...agents],
  };
  return {
    directory,
    async load() {
      for (const own of ownEngines.values()) {
        const loaded = await createEngine(own.agent, {
          modelPath: own.modelPath,
          baseDir: options.baseDir,
          dataDir: path.join(options.dataDir, "agents", own.owner),
          logger: options.logger.child({ agent: own.owner }),
          watermark: config.watermark,
        });
        own.deferred.resolve(loaded);
        options.logger.info({ agent: own.owner, ...loaded.info }, "agent model ready");
      }
    },
    async close() {
      const results = await Promise.allSettled([...ownEngines.values()].map((own) => own.deferred.close()));
      const failed = results.find((result): result is PromiseRejectedResult => result.status === "rejected");
      if (failed) throw failed.reason;
    },
  };
}

/** The top-level agent section with an agent's overrides: its prompt, its parameters, its model. */
export function agentConfigOf(base: AgentConfig, entry: AgentEntry): AgentConfig {
  return {
    ...base,
    system_prompt: entry.system_prompt ?? base.system_prompt,
    max_tokens: entry.params.max_tokens ?? base.max_tokens,
    temperature: entry.params.temperature ?? base.temperature,
    top_p: entry.params.top_p ?? base.top_p,
    model_path: entry.model_path ?? base.model_path,
    model_aliases: entry.model_aliases,
  };
}

/** Each gateway type's default agent (requests carry the type, not the entry): entries of one type must agree. */
function defaultAgentsByGateway(gateways: readonly GatewayConfig[], names: readonly string[]): Map<string, string> {
  const defaults = new Map<string, { agent: string | undefined; where: string }>();
  for (const [index, gateway] of gateways.entries()) {
    const where = `gateways[${index}].agent`;
    const agent = gateway.agent;
    if (agent !== undefined && !names.includes(agent)) throw new ConfigError(`${where}: ${unknownAgentMessage(agent, names)}`);
    const type = gateway.type === "custom" ? gateway.protocol : gateway.type;
    const earlier = defaults.get(type);
    if (earlier && earlier.agent !== agent) {
      throw new ConfigError(
        `${where}: the ${type} gateways must give the same default agent (requests name their gateway type, not the entry); ` +
          `${earlier.where} gives ${earlier.agent === undefined ? "none" : `"${earlier.agent}"`}, this one ${agent === undefined ? "none" : `"${agent}"`}`,
      );
    }
    defaults.set(type, { agent, where });
  }
  return new Map([...defaults].flatMap(([type, { agent }]) => (agent === undefined ? [] : [[type, agent] as [string, string]])));
}

/** An agent's own model: a file (relative to the config file) or a cached model's name; downloads are not started here. */
async function agentModelPath(spec: string, where: string, options: NodeAgentsOptions): Promise<string> {
  try {
    const location = await resolveModel(spec, { baseDir: options.baseDir, cacheDir: modelCacheDir(options.environment), environment: options.environment });
    if (location.kind === "file") return location.path;
    throw new ConfigError(`${where}: "${spec}" is a download; an agent's model must be a file or a cached model (run: clawbot models pull ${spec})`);
  } catch (error) {
    if (error instanceof ModelNotFoundError) throw new ConfigError(`${where}: ${error.message}`);
    throw error;
  }
}

/** What an own engine says about itself while its model loads. */
function placeholderInfo(agent: AgentConfig, modelPath: string): ConstructorParameters<typeof DeferredEngine>[0] {
  return {
    engine: agent.engine,
    model: agent.engine === "llama" ? path.basename(modelPath).replace(/\.gguf$/i, "") : agent.engine,
    contextSize: agent.context_size ?? 0,
    parallel: agent.parallel,
    maxQueue: agent.max_queue,
    threads: agent.threads,
    chatTemplate: false,
    backend: "loading",
  };
}

function toolGrant(allow: readonly string[]): readonly string[] | "*" {
  return allow.includes("*") ? "*" : [...allow];
}

function unknownAgentMessage(requested: string, names: readonly string[]): string {
  const shown = requested.length > 200 ? `${requested.slice(0, 200)}…` : requested;
  return `There is no agent named "${shown}"; this node serves ${names.map((name) => `"${name}"`).join(", ")}.`;
}
