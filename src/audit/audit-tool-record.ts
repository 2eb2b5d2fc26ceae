// The body of a "tool_call" audit record: who had which node-side tool called in which request, and how the call went.
import { toolNamePattern } from "../config/tools-schema.js";
import type { RequestStart, ToolCallRecord } from "../pipeline/request-observer.js";
import { eraseText, type ErasedText } from "./audit-canonical.js";
import { type AuditContent, requesterFields } from "./audit-request-record.js";

/**
 * The call's arguments as `audit.content` keeps them: `full` the JSON text as the model wrote it; `redacted` and
 * `hash` its SM3 digest. No plugin ever processes the arguments (they may copy patient data from the knowledge base or
 * an earlier tool's result), so there is no redacted text to keep: redacted mode keeps only what passed the plugins.
 */
export function auditArguments(call: ToolCallRecord, content: AuditContent): string | ErasedText {
  return content === "full" ? call.arguments : eraseText(call.arguments);
}

export function toolCallRecordBody(start: RequestStart, call: ToolCallRecord, content: AuditContent, nodeId: string): Record<string, unknown> {
  return {
    ...requesterFields(start, nodeId),
    agent: call.agent,
    call_id: call.callId,
    // The name as the model wrote it, when it is a tool name at all (an unknown one is kept: the model asked for it).
    tool: toolNamePattern.test(call.tool) ? call.tool : null,
    source: call.source ?? null,
    content,
    arguments: auditArguments(call, content),
    outcome: call.outcome,
    result_chars: call.resultChars,
    duration_ms: Number.isFinite(call.durationMs) ? Math.round(call.durationMs * 1000) / 1000 : 0,
  };
}
