// A body the schema refuses, as a bad_request that names the field in OpenAI's notation (`messages[0].content`).
import type { ZodError, ZodIssue } from "zod";
import { ClawError } from "../../core/errors.js";

export function invalidBodyError(error: ZodError): ClawError {
  const issue = mostSpecific(error.issues[0]);
  if (!issue) return new ClawError("bad_request", "The body is invalid.");
  const param = toParam(issue.path);
  if (!param) return new ClawError("bad_request", `The body is invalid: ${issue.message}.`);
  const message = issue.code === "invalid_type" && issue.received === "undefined" ? `The "${param}" field is required.` : `Invalid "${param}": ${describe(issue)}.`;
  return new ClawError("bad_request", message, { param });
}

/** A union's "Invalid input" says nothing: use the issue of the branch that got furthest into the value. */
function mostSpecific(issue: ZodIssue | undefined): ZodIssue | undefined {
  if (issue?.code !== "invalid_union") return issue;
  const candidates = issue.unionErrors.map((unionError) => mostSpecific(unionError.issues[0])).filter((candidate) => candidate !== undefined);
  const deepest = candidates.reduce<ZodIssue | undefined>((best, candidate) => (best && best.path.length >= candidate.path.length ? best : candidate), undefined);
  return deepest && deepest.path.length > issue.path.length ? deepest : issue;
}

/** A union whose branches all want another type says which types they want ("Expected string or array, received number"). */
function describe(issue: ZodIssue): string {
  if (issue.code !== "invalid_union") return issue.message;
  const branches = issue.unionErrors.map((unionError) => unionError.issues[0]);
  if (!branches.every((branch) => branch?.code === "invalid_type" && branch.path.length === issue.path.length)) return issue.message;
  const typed = branches as Extract<ZodIssue, { code: "invalid_type" }>[];
  return `Expected ${[...new Set(typed.map((branch) => branch.expected))].join(" or ")}, received ${typed[0]?.received ?? "something else"}`;
}

/** ["messages", 0, "content"] → "messages[0].content". */
function toParam(path: (string | number)[]): string {
  return path.map((segment, index) => (typeof segment === "number" ? `[${segment}]` : index === 0 ? segment : `.${segment}`)).join("").slice(0, 200);
}
