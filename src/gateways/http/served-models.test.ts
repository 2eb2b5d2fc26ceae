// Served model names: the model, its aliases, the agents and theirs, an absent name; anything else is model_not_found (unavailable while loading).
import { describe, expect, it } from "vitest";
import type { ClawError } from "../../core/errors.js";
import type { AgentConfig } from "../../config/schema.js";
import type { LanguageModel } from "../../engine/language-model.js";
import type { ResolvedAgent } from "../../pipeline/agent-directory.js";
import { ServedModels } from "./served-models.js";

function served(options: { model: string; aliases?: string[]; ready?: boolean; agents?: Record<string, string[]> }): ServedModels {
  const engine = { info: { model: options.model } } as unknown as LanguageModel;
  const agent = (name: string, aliases: string[]): ResolvedAgent => ({ name, config: { model_aliases: aliases } as AgentConfig, engine, tools: "*", collections: undefined });
  const agents = [agent("default", options.aliases ?? []), ...Object.entries(options.agents ?? {}).map(([name, aliases]) => agent(name, aliases))];
  const pipeline = options.agents ? { agents: { resolve: () => agents[0] as ResolvedAgent, list: () => agents } } : undefined;
  return new ServedModels({ engine, isReady: () => options.ready ?? true, modelAliases: options.aliases, ...(pipeline ? { pipeline } : {}) });
}

function thrown(run: () => unknown): ClawError | undefined {
  try {
    run();
    return undefined;
  } catch (error) {
    return error as ClawError;
  }
}

describe("ServedModels", () => {
  it("accepts the model, each alias, and an absent or empty name", () => {
    const models = served({ model: "qwen", aliases: ["gpt-4o-mini", "qwen"] });
    expect(models.names()).toEqual(["qwen", "gpt-4o-mini"]);
    for (const name of ["qwen", "gpt-4o-mini", undefined, null, ""]) expect(thrown(() => models.check(name))).toBeUndefined();
  });

  it("refuses other names with model_not_found naming the field and the served names", () => {
    const error = thrown(() => served({ model: "qwen", aliases: ["gpt-4o-mini"] }).check("gpt-4o"));
    expect(error).toMatchObject({ code: "model_not_found", status: 404, param: "model" });
    expect(error?.message).toContain('"gpt-4o"');
    expect(error?.message).toContain('"qwen", "gpt-4o-mini"');
    expect(thrown(() => served({ model: "qwen" }).retrieve(""))?.code).toBe("model_not_found");
  });

  it("says unavailable, not model_not_found, while the model loads (its name may not be known yet)", () => {
    const models = served({ model: "llama", ready: false });
    expect(thrown(() => models.check("qwen2.5-0.5b-instruct-q4_k_m"))?.code).toBe("unavailable");
    expect(thrown(() => models.check("llama"))).toBeUndefined();
  });

  it("caps a huge requested name in the message", () => {
    const error = thrown(() => served({ model: "qwen" }).check("x".repeat(100_000)));
    expect(error?.message.length).toBeLessThan(400);
  });

  it("serves each agent by its name and aliases after the model's names, and maps them to the agent", () => {
    const models = served({ model: "qwen", aliases: ["gpt-4o-mini"], agents: { triage: ["nurse-bot"], clerk: [] } });
    expect(models.names()).toEqual(["qwen", "gpt-4o-mini", "triage", "nurse-bot", "clerk"]);
    expect(models.list().data.map((model) => [model.id, model.owned_by])).toContainEqual(["clerk", "clawbot"]);
    expect(models.retrieve("nurse-bot")).toMatchObject({ id: "nurse-bot", object: "model" });
    expect([models.agentFor("triage"), models.agentFor("nurse-bot"), models.agentFor("clerk")]).toEqual(["triage", "triage", "clerk"]);
    // The model's own names and an absent name leave the choice to the gateway's default agent.
    for (const name of ["qwen", "gpt-4o-mini", undefined, null, ""]) expect(models.agentFor(name)).toBeUndefined();
    // The default agent is served under the model's names, not as "default"; other names stay model_not_found.
    expect(thrown(() => models.check("default"))?.code).toBe("model_not_found");
    expect(thrown(() => models.check("Triage"))?.code).toBe("model_not_found");
    expect(thrown(() => models.check("triage"))).toBeUndefined();
  });
});
