// How tools reach a model as text: their catalog in the system message, calls as <tool_call> blocks, results as <tool_response> blocks.
import { randomBytes } from "node:crypto";
import type { ChatMessage, ToolCall, ToolChoice, ToolDefinition } from "../core/types.js";

/** The markers around a call: the Hermes convention, which Qwen 2.5/3, Hermes and many other local models were trained on. */
export const toolCallOpen = "<tool_call>";
export const toolCallClose = "</tool_call>";
/** What the model writes to start a call, and where a constrained call's JSON begins. */
export const toolCallStart = `${toolCallOpen}\n`;

/**
 * The catalog: every tool's name, description and argument schema, and how to call one. Deterministic for the same
 * tools, so it renders to the same tokens every turn and a sequence's kept state holds it.
 */
export function toolCatalog(tools: readonly ToolDefinition[]): string {
  const lines = tools.map((tool) => JSON.stringify({ name: tool.name, description: tool.description, parameters: tool.parameters }));
  return [
    "# Tools",
    "",
    "You may call tools to help answer. They are described here as JSON Schemas:",
    "<tools>",
    ...lines,
    "</tools>",
    "",
    "To call a tool, write only this, with the tool's name and its arguments as one JSON object:",
    toolCallOpen,
    '{"name": "<tool name>", "arguments": {<arguments>}}',
    toolCallClose,
    "The result comes back inside <tool_response></tool_response>. Answer the user once you have what you need.",
  ].join("\n");
}

/** A call as the model writes it (and as history shows it). */
export function renderToolCall(call: Pick<ToolCall, "name" | "arguments">): string {
  return `${toolCallStart}{"name": ${JSON.stringify(call.name)}, "arguments": ${call.arguments}}\n${toolCallClose}`;
}

/**
 * The conversation in system/user/assistant messages only, with the tools' catalog at the very start (after the
 * system prompt, before any history): calls become <tool_call> text of their assistant turn, and each run of tool
 * results becomes one user turn of <tool_response> blocks. Without tools and tool messages, the messages as given.
 */
export function toTextMessages(messages: readonly ChatMessage[], tools?: readonly ToolDefinition[]): ChatMessage[] {
  const output: ChatMessage[] = [];
  const catalog = tools && tools.length > 0 ? toolCatalog(tools) : undefined;
  let catalogued = catalog === undefined;
  for (const message of messages) {
    if (!catalogued) {
      catalogued = true;
      if (message.role === "system") {
        output.push({ role: "system", content: message.content ? `${message.content}\n\n${catalog}` : (catalog as string) });
        continue;
      }
      output.push({ role: "system", content: catalog as string });
    }
    if (message.role === "tool") {
      const block = `<tool_response>\n${message.content}\n</tool_response>`;
      const previous = output[output.length - 1];
      if (previous?.role === "user" && previous.content.endsWith("</tool_response>")) previous.content += `\n${block}`;
      else output.push({ role: "user", content: block });
      continue;
    }
    if (message.role === "assistant" && message.toolCalls && message.toolCalls.length > 0) {
      const calls = message.toolCalls.map(renderToolCall).join("\n");
      output.push({ role: "assistant", content: message.content ? `${message.content}\n${calls}` : calls });
      continue;
    }
    output.push({ role: message.role, content: message.content });
  }
  if (!catalogued) output.push({ role: "system", content: catalog as string });
  return output;
}

/** The tools a step may call under `choice` (none for `none`; the named one alone for `{name}`). */
export function callableTools(tools: readonly ToolDefinition[], choice: ToolChoice): ToolDefinition[] {
  if (choice === "none") return [];
  if (typeof choice === "object") return tools.filter((tool) => tool.name === choice.name);
  return [...tools];
}

/**
 * The JSON Schema of one call to any of `tools`: `{"name": <one of them>, "arguments": <its schema>}`, name first.
 * A grammar built from it only ever yields a well-formed call whose arguments validate.
 */
export function toolCallSchema(tools: readonly ToolDefinition[]): Record<string, unknown> {
  const alternatives = tools.map((tool) => ({
    type: "object",
    properties: { name: { const: tool.name }, arguments: tool.parameters },
    required: ["name", "arguments"],
    additionalProperties: false,
  }));
  return alternatives.length === 1 ? (alternatives[0] as Record<string, unknown>) : { oneOf: alternatives };
}

/**
 * Reads a call's JSON (the text between the markers). The arguments are kept as JSON text, re-serialized; a call that
 * does not parse, or names no string tool, gives a reason instead (it is then answered with an error, never run).
 */
export function parseToolCall(text: string): { name: string; arguments: string } | { problem: string } {
  let value: unknown;
  try {
    value = JSON.parse(text.trim());
  } catch (error) {
    return { problem: `the call is not JSON (${(error as Error).message})` };
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) return { problem: "the call is not a JSON object" };
  const { name, arguments: args } = value as { name?: unknown; arguments?: unknown };
  if (typeof name !== "string" || name.length === 0) return { problem: 'the call has no "name" string' };
  const argumentsObject = args === undefined ? {} : args;
  return { name, arguments: JSON.stringify(argumentsObject) };
}

/** A new call id, in the OpenAI API's style. */
export function newToolCallId(): string {
  return `call_${randomBytes(12).toString("base64url")}`;
}
