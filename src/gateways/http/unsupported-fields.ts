// The OpenAI chat-completion fields this server does not support yet: refused with a 400 naming the field, never ignored.
import { ClawError } from "../../core/errors.js";

/** A top-level field and when its value asks for something this server cannot do (the defaults a client may send are fine). */
interface FieldRule {
  field: string;
  refused(value: unknown): boolean;
  message: string;
}

const isSet = (value: unknown) => value !== undefined && value !== null;
const nonEmptyList = (value: unknown) => isSet(value) && !(Array.isArray(value) && value.length === 0);
const notNoneOrAuto = (value: unknown) => isSet(value) && value !== "none" && value !== "auto";
const nonZeroNumber = (value: unknown) => typeof value === "number" && value !== 0;

/** Checked in this order; the first refused field is the one the error names. See docs/openai-api.md. */
const fieldRules: FieldRule[] = [
  // OpenAI's deprecated function calling: refused with a pointer to its replacement, which this server supports.
  { field: "functions", refused: nonEmptyList, message: 'The "functions" field (deprecated by OpenAI) is not supported by this server; send the functions as "tools".' },
  { field: "function_call", refused: notNoneOrAuto, message: 'The "function_call" field (deprecated by OpenAI) is not supported by this server; use "tool_choice" with "tools".' },
  { field: "n", refused: (value) => typeof value === "number" && value !== 1, message: 'An "n" other than 1 is not supported by this server yet: it generates one choice per request.' },
  { field: "audio", refused: isSet, message: 'The "audio" field is not supported by this server yet: it answers with text only.' },
  {
    field: "modalities",
    refused: (value) => Array.isArray(value) && value.some((modality) => modality !== "text"),
    message: 'The "modalities" field is not supported by this server yet beyond ["text"]: it answers with text only.',
  },
  { field: "logit_bias", refused: (value) => typeof value === "object" && value !== null && Object.keys(value).length > 0, message: 'The "logit_bias" field is not supported by this server yet.' },
  { field: "frequency_penalty", refused: nonZeroNumber, message: 'The "frequency_penalty" field is not supported by this server yet (only 0 is accepted).' },
  { field: "presence_penalty", refused: nonZeroNumber, message: 'The "presence_penalty" field is not supported by this server yet (only 0 is accepted).' },
  { field: "web_search_options", refused: isSet, message: 'The "web_search_options" field is not supported by this server: it has no web search.' },
  // llama.cpp server extensions that constrain the answer's shape: silently ignoring them would return free text.
  { field: "grammar", refused: isSet, message: 'The "grammar" field (a llama.cpp server extension) is not supported by this server; use "response_format".' },
  { field: "json_schema", refused: isSet, message: 'The "json_schema" field (a llama.cpp server extension) is not supported by this server; use "response_format".' },
];

/**
 * The first field of a chat-completion body that asks for something not supported, as a bad_request naming it
 * (OpenAI's `param`); undefined when there is none. Runs before the schema, so the client reads the field's name,
 * not a schema path; a body that is no object is left to the schema.
 */
export function findUnsupportedField(body: unknown): ClawError | undefined {
  if (typeof body !== "object" || body === null || Array.isArray(body)) return undefined;
  const fields = body as Record<string, unknown>;
  for (const rule of fieldRules) {
    if (Object.hasOwn(fields, rule.field) && rule.refused(fields[rule.field])) return refuse(rule.field, rule.message);
  }
  return Array.isArray(fields.messages) ? findUnsupportedInMessages(fields.messages) : undefined;
}

function findUnsupportedInMessages(messages: unknown[]): ClawError | undefined {
  for (const [index, message] of messages.entries()) {
    if (typeof message !== "object" || message === null) continue;
    const { role, content, function_call: functionCall, audio } = message as Record<string, unknown>;
    const at = `messages[${index}]`;
    if (role === "function") {
      return refuse(`${at}.role`, `Messages with role "function" (deprecated by OpenAI) are not supported by this server; send a "tool" message with the call's tool_call_id.`);
    }
    if (isSet(functionCall)) return refuse(`${at}.function_call`, `The "function_call" of ${at} (deprecated by OpenAI) is not supported by this server; send the call in "tool_calls".`);
    if (isSet(audio)) return refuse(`${at}.audio`, `The "audio" of ${at} is not supported by this server yet: it reads text only.`);
    if (!Array.isArray(content)) continue;
    for (const [partIndex, part] of content.entries()) {
      const type = typeof part === "object" && part !== null ? (part as Record<string, unknown>).type : undefined;
      if (typeof type !== "string" || type === "text") continue;
      return refuse(`${at}.content[${partIndex}]`, `Content parts of type "${type.slice(0, 64)}" (in ${at}.content[${partIndex}]) are not supported by this server yet: it reads text parts only.`);
    }
  }
  return undefined;
}

function refuse(param: string, message: string): ClawError {
  return new ClawError("bad_request", message, { param });
}
