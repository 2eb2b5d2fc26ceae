// The `agents` section: more agents on one node, each the top-level `agent` with its own prompt, tools, knowledge, params and model.
import { z } from "zod";

/** The name the top-level `agent` section goes by; no entry of `agents` may take it. */
export const reservedAgentName = "default";

/** An agent's name as requests give it (`params.agent`, the OpenAI `model` field): letters, digits, `_`, `.`, `-`. */
export const agentNamePattern = /^[A-Za-z0-9_.-]{1,64}$/;

/** One agent: what it changes of the top-level `agent` section (everything else it takes from there). */
export const agentEntrySchema = z.strictObject({
  name: z
    .string()
    .regex(agentNamePattern, "expected 1-64 letters, digits, _, . or -")
    .refine((name) => name !== reservedAgentName, `"${reservedAgentName}" is the top-level agent section's name; choose another`),
  /** Its system prompt; the top-level `agent.system_prompt` when absent. */
  system_prompt: z.string().optional(),
  /** Node-side tools it may call (`*` all, `server.*` an MCP server's); `tools.allow` when absent, none when empty. */
  tools: z.array(z.string().min(1)).optional(),
  /** The knowledge collections its turns search and its tools read (empty: none); the configured ones when absent. */
  knowledge: z.strictObject({ collections: z.array(z.string().min(1).max(128)) }).optional(),
  /** Its default generation parameters; the top-level agent's when absent. */
  params: z
    .strictObject({
      max_tokens: z.number().int().positive().optional(),
      temperature: z.number().min(0).max(2).optional(),
      top_p: z.number().gt(0).max(1).optional(),
    })
    .default({}),
  /** Its own GGUF file (relative to the config file, or a cached model's name): it gets its own engine; else it shares the node's. */
  model_path: z.string().min(1).optional(),
  /** Other names the OpenAI API's `model` field selects it by. */
  model_aliases: z.array(z.string().min(1).max(256)).default([]),
});

/** Every agent of `agents`: names and aliases unique over all of them. */
export const agentsSchema = z
  .array(agentEntrySchema)
  .default([])
  .superRefine((agents, context) => {
    const taken = new Map<string, string>();
    agents.forEach((agent, index) => {
      const names: [string, (string | number)[]][] = [
        [agent.name, [index, "name"]],
        ...agent.model_aliases.map((alias, at): [string, (string | number)[]] => [alias, [index, "model_aliases", at]]),
      ];
      for (const [name, path] of names) {
        const owner = taken.get(name);
        if (owner !== undefined) context.addIssue({ code: "custom", path, message: `"${name}" is already a name of agent "${owner}"` });
        else taken.set(name, agent.name);
      }
    });
  });

export type AgentEntry = z.infer<typeof agentEntrySchema>;
