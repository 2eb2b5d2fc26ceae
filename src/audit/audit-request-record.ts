// The body of a "request" audit record: who asked what through which gateway, what was answered, and how it went.
import type { AuditConfig } from "../config/schema.js";
import type { GenerationParams } from "../core/types.js";
import type { RequestEnd, RequestStart } from "../pipeline/request-observer.js";
import { eraseText, type ErasedText } from "./audit-canonical.js";

export type AuditContent = AuditConfig["content"];

/** Who asked, where: the fields every record about a request starts with (its own record and its tool calls'). */
export function requesterFields(start: RequestStart, nodeId: string): Record<string, unknown> {
  return {
    node: nodeId,
    gateway: start.gateway,
    subject: start.principal.subject,
    roles: [...start.principal.roles],
    session: start.session ?? null,
    request_id: start.requestId,
  };
}

/** The request's texts as `audit.content` keeps them: full (as received and generated), redacted (after the plugins), or their digests. */
export function auditTexts(end: RequestEnd, content: AuditContent): { input: string | ErasedText | null; output: string | ErasedText | null } {
  const input = content === "full" ? end.receivedInput : end.processedInput;
  const output = content === "full" ? end.generatedOutput : end.deliveredOutput;
  if (content === "hash") return { input: input === undefined ? null : eraseText(input), output: eraseText(output) };
  return { input: input ?? null, output };
}

export function requestRecordBody(end: RequestEnd, content: AuditContent, nodeId: string): Record<string, unknown> {
  return {
    ...requesterFields(end, nodeId),
    client_request_id: end.clientRequestId,
    received_at: end.receivedAt,
    model: end.model,
    agent: end.agent,
    params: auditParams(end.params),
    content,
    ...auditTexts(end, content),
    plugins: [...end.plugins],
    redactions: redactionCounts(end.pluginMetadata),
    outcome: end.outcome,
    error_code: end.error?.code ?? null,
    error_message: end.error?.message ?? null,
    tokens: { prompt: end.usage.promptTokens, completion: end.usage.completionTokens, cached: end.usage.cachedPromptTokens ?? 0 },
    latency_ms: { queue: round(end.timings.queueMs), ttft: round(end.timings.ttftMs), total: round(end.timings.totalMs) },
    // What the knowledge base gave the prompt (ids and scores, never the chunk texts); [] when nothing was retrieved.
    retrieved: (end.citations ?? []).map((citation) => ({ doc_id: citation.docId, collection: citation.collection, chunk: citation.chunk, score: Number.isFinite(citation.score) ? citation.score : 0 })),
  };
}

/** The generation parameters, without free text (stop strings) or the JSON schema of a response format (only its type). */
function auditParams(params: GenerationParams): Record<string, unknown> {
  return {
    max_tokens: params.maxTokens,
    temperature: params.temperature,
    top_p: params.topP ?? null,
    seed: params.seed ?? null,
    stop_count: params.stop?.length ?? 0,
    adapter: params.adapter ?? null,
    response_format: params.responseFormat?.type ?? "text",
    logprobs: params.logprobs?.top ?? null,
  };
}

/** The redact plugin's counts by kind ({input: {phone: 1}, output: {}}), or null without it. */
function redactionCounts(metadata: Record<string, unknown>): unknown {
  const counts = metadata.redact;
  return counts !== null && typeof counts === "object" ? JSON.parse(JSON.stringify(counts)) : null;
}

/** Milliseconds to 0.001: enough for latency, and a stable number in the canonical form. */
function round(milliseconds: number): number {
  return Number.isFinite(milliseconds) ? Math.round(milliseconds * 1000) / 1000 : 0;
}
