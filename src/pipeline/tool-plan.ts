// Which tools one request may call and how: the node's (granted to its agent and roles) and the client's (OpenAI API).
import { ClawError } from "../core/errors.js";
import type { ToolChoice, ToolDefinition } from "../core/types.js";
import type { ToolsConfig } from "../config/schema.js";
import { toGrammarSchema } from "../engine/llama/json-schema-subset.js";
import type { ToolRegistry } from "../tools/tool-registry.js";
import type { NodeTool } from "../tools/tool-types.js";

export interface ToolPlan {
  /** Node-side tools by name (client tools of the same name hide them). */
  node: Map<string, NodeTool>;
  /** The client's tools (OpenAI `tools`): a call of one ends the request with finishReason `tool_calls`. */
  client: Set<string>;
  /** Every tool, as the model's catalog lists them: the node's (sorted), then the client's in its order. */
  definitions: ToolDefinition[];
  /** The first step's choice; later steps are `auto`, the last `none`. */
  choice: ToolChoice;
  constrained: boolean;
  maxSteps: number;
}

export interface ToolPlanInput {
  registry: ToolRegistry | undefined;
  config: ToolsConfig;
  /** The agent's allow list and the roles' grant. */
  agentAllow: readonly string[] | "*";
  roleGrant: Iterable<string> | "*";
  clientTools: ToolDefinition[] | undefined;
  choice: ToolChoice | undefined;
  /** Told (once per tool and schema) of a node tool left out because its schema cannot be enforced by a grammar. */
  onUnusable?: (tool: NodeTool, reason: string) => void;
}

/** Whether each node tool's schema can be enforced by the call grammar (checked once per tool object). */
const grammarChecks = new WeakMap<NodeTool, string | null>();

/** Why a tool's arguments cannot be generated under a grammar; null when they can. */
function grammarProblem(tool: NodeTool): string | null {
  let problem = grammarChecks.get(tool);
  if (problem === undefined) {
    try {
      toGrammarSchema(tool.parameters, `tools.${tool.name}.parameters`, { validatedAfter: true });
      problem = null;
    } catch (error) {
      problem = (error as Error).message;
    }
    grammarChecks.set(tool, problem);
  }
  return problem;
}

/**
 * The request's tools; undefined when it has none to call (or asked for `none` and has no client tools to list).
 * Throws bad_request for a choice that cannot be met, forbidden for a named node tool the roles may not use.
 */
export function planTools(input: ToolPlanInput): ToolPlan | undefined {
  const clientTools = input.clientTools ?? [];
  const client = new Set(clientTools.map((tool) => tool.name));
  const node = new Map<string, NodeTool>();
  for (const tool of input.registry?.offered(input.agentAllow, input.roleGrant) ?? []) {
    if (client.has(tool.name)) continue;
    // With constrained calls, a node tool whose schema no grammar can enforce is left out (and reported), rather than
    // failing every request that offers it; a client's such tool is refused with its request (bad_request).
    const problem = input.config.constrained ? grammarProblem(tool) : null;
    if (problem) input.onUnusable?.(tool, problem);
    else node.set(tool.name, tool);
  }
  const choice = input.choice ?? "auto";
  const definitions: ToolDefinition[] = [
    ...[...node.values()].map(({ name, description, parameters }) => ({ name, description, parameters })),
    ...clientTools,
  ];
  if (typeof choice === "object" && !node.has(choice.name) && !client.has(choice.name)) {
    if (input.registry?.find(choice.name)) throw new ClawError("forbidden", `You may not use the tool "${choice.name}".`, { param: "tool_choice" });
    throw new ClawError("bad_request", `tool_choice names "${choice.name}", which is not one of the tools offered (${definitions.map((tool) => tool.name).join(", ") || "none"}).`, { param: "tool_choice" });
  }
  if (choice === "required" && definitions.length === 0) throw new ClawError("bad_request", 'tool_choice is "required", but no tool is offered to this request.', { param: "tool_choice" });
  if (definitions.length === 0) return undefined;
  return { node, client, definitions, choice, constrained: input.config.constrained, maxSteps: input.config.max_steps };
}

/** The choice of step `step` (1-based): the request's for the first, `auto` after, `none` for the last allowed one. */
export function stepChoice(plan: ToolPlan, step: number): ToolChoice {
  if (step >= plan.maxSteps) return "none";
  return step === 1 ? plan.choice : plan.choice === "none" ? "none" : "auto";
}
