// What an IM user reads when there is no answer: a refused sender, a coded failure (English and Chinese, one line each).
import type { ErrorCode } from "../../core/errors.js";

/** Delivered to a sender not listed in `users` when `unknown_users: refuse`. */
export const refusalText =
  "Sorry — this assistant only answers registered users. Please ask your administrator for access.\n抱歉，此助手仅为已登记的用户服务，请联系管理员开通。";

/** Delivered when the model finished without any text. */
export const emptyAnswerText = "(The assistant gave an empty answer.)\n（助手没有给出回答。）";

/** A failed request's short reply: what happened in plain words and the code (for the operator), never the details. */
export function errorText(code: ErrorCode): string {
  switch (code) {
    case "overloaded":
    case "rate_limited":
    case "unavailable":
    case "worker_lost":
      return `Sorry — the assistant is busy (${code}). Please try again in a moment.\n抱歉，助手正忙（${code}），请稍后再试。`;
    case "forbidden":
      return `Sorry — you may not use this assistant here (${code}).\n抱歉，您无权在此使用该助手（${code}）。`;
    case "cancelled":
      return `Sorry — the answer took too long and was cancelled (${code}).\n抱歉，回答超时，已取消（${code}）。`;
    case "context_length_exceeded":
    case "payload_too_large":
      return `Sorry — the message is too long for the assistant (${code}).\n抱歉，消息太长，助手无法处理（${code}）。`;
    default:
      return `Sorry — the assistant could not answer (${code}).\n抱歉，助手无法回答（${code}）。`;
  }
}
