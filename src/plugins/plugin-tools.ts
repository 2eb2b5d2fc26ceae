// Tools a plugin offers the agent (`api.addTool`, or a class plugin's `tools()`): checked when the plugin loads.
import { toolNamePattern } from "../config/tools-schema.js";
import type { NodeTool, ToolRunContext } from "../tools/tool-types.js";

/** A tool as a plugin writes it. */
export interface PluginToolDefinition {
  /** What the model calls it: letters, digits, `_`, `-`, `.`; at most 64 characters. */
  name: string;
  /** What it does and when to use it: the model reads this to decide. */
  description: string;
  /** JSON Schema of its arguments (an object schema); none: it takes no arguments. */
  parameters?: Record<string, unknown>;
  /** It writes or sends something: every call needs the client's approval first. */
  confirm?: boolean;
  /** Runs one call with validated arguments; returns the result (text, or anything JSON) or throws to report a failure. */
  run(args: Record<string, unknown>, context: ToolRunContext): unknown;
}

/** The tool the registry holds for a plugin's definition; throws TypeError naming what is wrong, so the plugin fails to load. */
export function toPluginTool(plugin: string, definition: unknown): NodeTool {
  if (typeof definition !== "object" || definition === null) throw new TypeError("a tool must be an object {name, description, parameters, run}");
  const tool = definition as Partial<PluginToolDefinition>;
  if (typeof tool.name !== "string" || !toolNamePattern.test(tool.name)) {
    throw new TypeError(`tool name ${JSON.stringify(tool.name)} must be 1–64 letters, digits, "_", "-" or "."`);
  }
  if (typeof tool.description !== "string" || tool.description.trim() === "") throw new TypeError(`tool ${tool.name}: description must be a non-empty string`);
  const parameters = tool.parameters ?? { type: "object", properties: {} };
  if (typeof parameters !== "object" || parameters === null || Array.isArray(parameters) || (parameters as { type?: unknown }).type !== "object") {
    throw new TypeError(`tool ${tool.name}: parameters must be a JSON Schema with type "object"`);
  }
  if (typeof tool.run !== "function") throw new TypeError(`tool ${tool.name}: run must be a function`);
  const run = tool.run.bind(definition);
  return {
    name: tool.name,
    description: tool.description,
    parameters: parameters as Record<string, unknown>,
    source: `plugin:${plugin}`,
    confirm: tool.confirm === true,
    run: async (args, context) => run(args, context),
  };
}

/** Adds a tool to a plugin's list, refusing a second tool of the same name. */
export function addPluginTool(tools: NodeTool[], plugin: string, definition: unknown): void {
  const tool = toPluginTool(plugin, definition);
  if (tools.some((existing) => existing.name === tool.name)) throw new TypeError(`tool ${tool.name} is added twice`);
  tools.push(tool);
}
