// The node-side tool steps of an OpenAI answer (a Clawbot extension, like `citations`): each call and how it ended.
import type { StreamPart } from "../../core/types.js";

type ToolPart = Extract<StreamPart, { type: "tool-call" | "tool-result" }>;

/**
 * Collects the node-side calls of one answer (plugins, MCP, built-ins: the ones the node ran itself), for the
 * `tool_steps` field of the answer (non-streamed) or of its last chunk (streamed). Client tools are `tool_calls`.
 */
export class ToolStepsField {
  private readonly steps: { call_id: string; name: string; arguments: string; outcome?: string; content?: string; duration_ms?: number }[] = [];

  /** Takes a part; true when it was a tool step. */
  take(part: StreamPart): part is ToolPart {
    if (part.type === "tool-call") {
      this.steps.push({ call_id: part.call.id, name: part.call.name, arguments: part.call.arguments });
      return true;
    }
    if (part.type === "tool-result") {
      const step = this.steps.find((entry) => entry.call_id === part.callId);
      if (step) Object.assign(step, { outcome: part.outcome, content: part.content, duration_ms: Math.round(part.durationMs * 100) / 100 });
      return true;
    }
    return false;
  }

  /** `{tool_steps: [...]}` when the answer had any, else nothing. */
  fields(): { tool_steps?: ToolStepsField["steps"] } {
    return this.steps.length > 0 ? { tool_steps: this.steps } : {};
  }
}
