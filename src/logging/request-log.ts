// One structured log line per request at info (never its content): ids, who, where, tokens, timings, outcome.
import type { RequestEnd, RequestObserver } from "../pipeline/request-observer.js";
import type { Logger } from "./logger.js";

export function requestLog(logger: Logger): RequestObserver {
  const line = (request: RequestEnd) => ({
    request_id: request.requestId,
    client_request_id: request.clientRequestId,
    subject: request.principal.subject,
    gateway: request.gateway,
    session: request.session,
    model: request.model,
    agent: request.agent,
    prompt_tokens: request.usage.promptTokens,
    completion_tokens: request.usage.completionTokens,
    cached_prompt_tokens: request.usage.cachedPromptTokens,
    queue_ms: Math.round(request.timings.queueMs),
    ttft_ms: Math.round(request.timings.ttftMs),
    total_ms: Math.round(request.timings.totalMs),
    outcome: request.outcome,
  });
  return {
    finished: (request) => logger.info(line(request), "request"),
    // Refusals a client caused are info, like the answers; the node's own failures are logged as errors where they happen.
    failed: (request) => logger.info({ ...line(request), error: request.error?.code }, "request failed"),
  };
}
