// The frame protocol's `params.tool_choice` and `params.agent`, and the `tool.approve` frame's fields.
import { z } from "zod";
import { toolNamePattern } from "../config/tools-schema.js";
import type { ToolChoice } from "../core/types.js";

const toolName = z.string().regex(toolNamePattern, 'a tool name is 1 to 64 letters, digits, "_", "." or "-"');

const toolChoiceMessage =
  'tool_choice must be "auto", "none", "required", {"type":"function","function":{"name":"<tool>"}} or {"name":"<tool>"} (a tool name is 1 to 64 letters, digits, "_", "." or "-")';

/**
 * `tool_choice`: OpenAI's values (`"auto"`, `"none"`, `"required"`, `{"type":"function","function":{"name":…}}`), or the
 * shorthand `{"name":…}`. A value of no known shape gets the list of shapes; one that fails inside a shape, that shape's problem.
 */
export const toolChoiceFieldSchema = z.union(
  [
    z.enum(["auto", "none", "required"]),
    z.strictObject({ type: z.literal("function"), function: z.strictObject({ name: toolName }) }),
    z.strictObject({ name: toolName }),
  ],
  { errorMap: () => ({ message: toolChoiceMessage }) },
);

export type ToolChoiceField = z.infer<typeof toolChoiceFieldSchema>;

/** `agent`: the name of one of the node's agents (`default` when absent). */
export const agentFieldSchema = z.string().min(1, "agent must name an agent").max(128);

/** The pipeline's choice; undefined (auto) when the field is absent. */
export function toToolChoice(field: ToolChoiceField | undefined): ToolChoice | undefined {
  if (field === undefined) return undefined;
  if (typeof field === "string") return field;
  return { name: "function" in field ? field.function.name : field.name };
}

/** `{"type":"tool.approve","id":…,"call_id":…,"approved":…}`: the client's answer to a `tool-approval` frame (WebSocket). */
export const toolApproveFields = {
  call_id: z.string().min(1).max(128),
  approved: z.boolean(),
};
