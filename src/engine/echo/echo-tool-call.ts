// The echo engine's tool calls: deterministic, so pipeline tests can drive the agent loop without a model.
import type { ChatMessage, ToolCall, ToolDefinition } from "../../core/types.js";
import type { EngineTools } from "../language-model.js";
import { callableTools, newToolCallId } from "../tool-prompt.js";

/**
 * The call the echo engine makes, if any. After a tool result it never calls (it echoes the prompt, result included).
 * With `required` or a named tool it always calls: the named tool, else one the last user turn names, else the first.
 * With `auto` it calls only a tool the last user turn names. The arguments are the first JSON object in that turn,
 * else the simplest value the tool's schema accepts.
 */
export function echoToolCall(messages: readonly ChatMessage[], tools: EngineTools): ToolCall | undefined {
  const callable = callableTools(tools.definitions, tools.choice);
  const last = messages[messages.length - 1];
  if (callable.length === 0 || !last || last.role === "tool") return undefined;
  const text = last.role === "user" ? last.content : "";
  const named = callable.find((tool) => text.includes(tool.name));
  const tool = typeof tools.choice === "object" ? callable[0] : tools.choice === "required" ? (named ?? callable[0]) : named;
  if (!tool) return undefined;
  return { id: newToolCallId(), name: tool.name, arguments: JSON.stringify(jsonObjectIn(text) ?? simplestValue(tool.parameters)) };
}

function jsonObjectIn(text: string): Record<string, unknown> | undefined {
  const start = text.indexOf("{");
  const end = text.lastIndexOf("}");
  if (start < 0 || end <= start) return undefined;
  try {
    const value: unknown = JSON.parse(text.slice(start, end + 1));
    return typeof value === "object" && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/** The simplest value a schema accepts (first enum value, required properties only, minimum numbers). */
export function simplestValue(schema: ToolDefinition["parameters"] | undefined): unknown {
  if (!schema || typeof schema !== "object") return {};
  if ("const" in schema) return schema.const;
  if (Array.isArray(schema.enum)) return schema.enum[0];
  const alternatives = (schema.oneOf ?? schema.anyOf) as Record<string, unknown>[] | undefined;
  if (Array.isArray(alternatives) && alternatives.length > 0) return simplestValue(alternatives[0]);
  const type = Array.isArray(schema.type) ? schema.type[0] : schema.type;
  switch (type) {
    case "string":
      return "x".repeat(typeof schema.minLength === "number" ? schema.minLength : 0);
    case "number":
    case "integer":
      return typeof schema.minimum === "number" ? schema.minimum : 0;
    case "boolean":
      return false;
    case "array":
      return [];
    case "null":
      return null;
    default: {
      const properties = (schema.properties ?? {}) as Record<string, Record<string, unknown>>;
      const required = Array.isArray(schema.required) ? (schema.required as string[]) : [];
      return Object.fromEntries(required.map((name) => [name, simplestValue(properties[name])]));
    }
  }
}
