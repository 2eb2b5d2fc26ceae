// Function calling in the OpenAI chat-completions API: the `tools` and tool-message fields, their checks, and the answer's `tool_calls` (`tool_choice` is src/gateways/tool-choice-field.ts, shared with the frames).
import { z } from "zod";
import { toolNamePattern } from "../../config/tools-schema.js";
import { ClawError } from "../../core/errors.js";
import type { ToolCall, ToolDefinition } from "../../core/types.js";

/** Most tools one request may offer (OpenAI's limit is 128 too). */
export const maxClientTools = 128;

const toolName = z.string().regex(toolNamePattern, "a tool name is 1 to 64 letters, digits, '_', '.' or '-'");

/** A tool's argument schema: a JSON object schema (`type` "object", or no `type`, read as "object"). */
const parametersSchema = z
  .record(z.string(), z.unknown())
  .refine((schema) => schema.type === undefined || schema.type === "object", { message: 'parameters must be an object schema ("type": "object")' });

const toolSchema = z.object({
  type: z.literal("function"),
  function: z.object({
    name: toolName,
    description: z.string().max(8192).optional(),
    /** Absent: a function without arguments. */
    parameters: parametersSchema.optional(),
    /** Accepted: with `tools.constrained` (the default) every call's arguments are filled under the schema's grammar anyway. */
    strict: z.boolean().nullable().optional(),
  }),
});

/** `tools`: up to 128 functions with distinct names. */
export const toolsFieldSchema = z
  .array(toolSchema)
  .max(maxClientTools)
  .superRefine((tools, context) => {
    const seen = new Set<string>();
    for (const [index, tool] of tools.entries()) {
      if (seen.has(tool.function.name)) context.addIssue({ code: "custom", path: [index, "function", "name"], message: `the tool name "${tool.function.name}" is used twice` });
      seen.add(tool.function.name);
    }
  });

/** An assistant message's `tool_calls` entry, as a client sends back what it was given. */
export const assistantToolCallSchema = z.object({
  id: z.string().min(1).max(256),
  type: z.literal("function"),
  function: z.object({ name: z.string().min(1).max(256), arguments: z.string() }),
});

export type ToolsField = z.infer<typeof toolsFieldSchema>;
export type AssistantToolCallField = z.infer<typeof assistantToolCallSchema>;

/** The client's tools as the pipeline takes them; undefined when there are none. */
export function toClientTools(tools: ToolsField | null | undefined): ToolDefinition[] | undefined {
  if (!tools || tools.length === 0) return undefined;
  return tools.map(({ function: tool }) => ({
    name: tool.name,
    description: tool.description ?? "",
    parameters: tool.parameters === undefined ? { type: "object", properties: {} } : { ...tool.parameters, type: "object" },
  }));
}

/** An assistant turn's calls as the pipeline takes them (empty arguments read as `{}`). */
export function toToolCalls(calls: AssistantToolCallField[]): ToolCall[] {
  return calls.map((call) => ({ id: call.id, name: call.function.name, arguments: call.function.arguments.trim() === "" ? "{}" : call.function.arguments }));
}

/**
 * Tracks the calls of a conversation's assistant turns, so each `tool` message can be matched to the call it answers
 * (its tool's name comes from that call).
 */
export class ToolCallLedger {
  private readonly calls = new Map<string, string>();

  /** Records an assistant turn's calls at `messages[index]`; a call id used twice is a bad_request naming it. */
  add(calls: ToolCall[], index: number): void {
    for (const [callIndex, call] of calls.entries()) {
      if (this.calls.has(call.id)) {
        throw new ClawError("bad_request", `The tool call id "${call.id.slice(0, 64)}" in messages[${index}].tool_calls[${callIndex}] is used by an earlier call.`, {
          param: `messages[${index}].tool_calls[${callIndex}].id`,
        });
      }
      this.calls.set(call.id, call.name);
    }
  }

  /** The tool name of the call a `tool` message at `messages[index]` answers; a bad_request naming its tool_call_id when no earlier call has that id. */
  answer(toolCallId: string | undefined, index: number): string {
    const param = `messages[${index}].tool_call_id`;
    if (toolCallId === undefined || toolCallId === "") throw new ClawError("bad_request", `A "tool" message needs a "tool_call_id" (${param}).`, { param });
    const name = this.calls.get(toolCallId);
    if (name === undefined) {
      throw new ClawError("bad_request", `messages[${index}] answers the tool call "${toolCallId.slice(0, 64)}", which no earlier assistant message's tool_calls has.`, { param });
    }
    return name;
  }
}

/** The answer's `tool_calls`, in OpenAI's shape. */
export function openAiToolCalls(calls: ToolCall[]): { id: string; type: "function"; function: { name: string; arguments: string } }[] {
  return calls.map((call) => ({ id: call.id, type: "function", function: { name: call.name, arguments: call.arguments } }));
}

/**
 * The streamed form of the calls: per call, a chunk delta with its index, id and name (arguments ""), then one
 * with its arguments, as OpenAI streams them.
 */
export function streamedToolCallDeltas(calls: ToolCall[]): Record<string, unknown>[] {
  return calls.flatMap((call, index) => [
    { tool_calls: [{ index, id: call.id, type: "function", function: { name: call.name, arguments: "" } }] },
    { tool_calls: [{ index, function: { arguments: call.arguments } }] },
  ]);
}
