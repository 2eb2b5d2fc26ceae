// Hostile values of the OpenAI function-calling fields: tools, tool_choice, assistant tool_calls and tool messages.
import fc from "fast-check";
import { wrongTypeValue } from "./hostile-inputs.js";

/** Tool names: valid ones (which the echo engine may call), near misses, too long, odd characters. */
const toolNameArbitrary: fc.Arbitrary<unknown> = fc.oneof(
  fc.constantFrom("weather", "clock", "a.b-c_d", "x".repeat(64), "x".repeat(65), "", "get weather", "名前", "weather\u0000", "../etc"),
  fc.string({ maxLength: 70 }),
  wrongTypeValue,
);

/** Argument schemas: plain object schemas, ones with enums and numbers, other types, anything. */
const parametersArbitrary: fc.Arbitrary<unknown> = fc.oneof(
  fc.constantFrom(
    { type: "object", properties: {} },
    { type: "object", properties: { city: { type: "string" } }, required: ["city"] },
    { type: "object", properties: { animal: { enum: ["cat", "dog"] }, count: { type: "number", minimum: 1 } }, required: ["animal", "count"] },
    { properties: { a: { type: "integer" } } },
    { type: "string" },
    { type: "object", properties: { a: { $ref: "#/nowhere" } }, required: ["a"] },
    {},
  ),
  fc.json({ maxDepth: 3 }).map((text) => JSON.parse(text) as unknown),
  wrongTypeValue,
);

const toolArbitrary: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ type: fc.constant("function"), function: fc.record({ name: toolNameArbitrary, description: fc.oneof(fc.string({ maxLength: 30 }), wrongTypeValue), parameters: parametersArbitrary, strict: fc.oneof(fc.boolean(), wrongTypeValue) }, { requiredKeys: ["name"] }) }) },
  { weight: 1, arbitrary: fc.record({ type: fc.oneof(fc.constantFrom("function", "code_interpreter", ""), wrongTypeValue), function: wrongTypeValue }, { requiredKeys: [] }) },
  { weight: 1, arbitrary: wrongTypeValue },
);

/** `tools`: mostly lists of valid-looking functions (names may repeat), sometimes over the 128 limit or of the wrong type. */
export const toolsArbitrary: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 6, arbitrary: fc.array(toolArbitrary, { maxLength: 4 }) },
  { weight: 1, arbitrary: fc.integer({ min: 127, max: 130 }).map((count) => Array.from({ length: count }, (_, index) => ({ type: "function", function: { name: `f${index}` } }))) },
  { weight: 1, arbitrary: wrongTypeValue },
);

/** `tool_choice`: the four kinds, names of tools offered or not, wrong shapes. */
export const toolChoiceArbitrary: fc.Arbitrary<unknown> = fc.oneof(
  fc.constantFrom("auto", "none", "required", "any", "", null),
  fc.record({ type: fc.oneof(fc.constant("function"), wrongTypeValue), function: fc.oneof(fc.record({ name: toolNameArbitrary }), wrongTypeValue) }, { requiredKeys: [] }),
  wrongTypeValue,
);

const callIdArbitrary: fc.Arbitrary<unknown> = fc.oneof(fc.constantFrom("call_1", "call_2", "", "x".repeat(257)), fc.string({ maxLength: 12 }), wrongTypeValue);

const assistantCallArbitrary: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ id: callIdArbitrary, type: fc.constant("function"), function: fc.record({ name: toolNameArbitrary, arguments: fc.oneof(fc.constantFrom("{}", '{"city":"Oslo"}', "", "not json", "[1]"), wrongTypeValue) }, { requiredKeys: [] }) }, { requiredKeys: [] }) },
  { weight: 1, arbitrary: wrongTypeValue },
);

/** One turn of a tool conversation: an assistant's calls (content null, text or absent), or a tool result for some id. */
const toolTurnArbitrary: fc.Arbitrary<unknown> = fc.oneof(
  fc.record({ role: fc.constant("assistant"), content: fc.oneof(fc.constant(null), fc.string({ maxLength: 20 })), tool_calls: fc.oneof(fc.array(assistantCallArbitrary, { maxLength: 3 }), wrongTypeValue) }, { requiredKeys: ["role", "tool_calls"] }),
  fc.record({ role: fc.constant("tool"), tool_call_id: callIdArbitrary, content: fc.oneof(fc.string({ maxLength: 30 }), fc.constant([{ type: "text", text: "r" }]), wrongTypeValue) }, { requiredKeys: ["role"] }),
  fc.record({ role: fc.constantFrom("user", "system"), content: fc.string({ maxLength: 20 }), tool_calls: fc.array(assistantCallArbitrary, { maxLength: 1 }) }),
);

/** Conversations with tool turns after a user turn: well-ordered answered calls, unanswered ones, ids answering nothing. */
export const toolMessagesArbitrary: fc.Arbitrary<unknown[]> = fc.oneof(
  fc.array(toolTurnArbitrary, { minLength: 1, maxLength: 5 }).map((turns) => [{ role: "user", content: "weather?" }, ...turns]),
  fc.tuple(fc.string({ maxLength: 20 }), fc.boolean()).map(([result, ask]) => [
    { role: "user", content: 'weather {"city":"Oslo"}' },
    { role: "assistant", content: null, tool_calls: [{ id: "call_1", type: "function", function: { name: "weather", arguments: '{"city":"Oslo"}' } }] },
    { role: "tool", tool_call_id: "call_1", content: result },
    ...(ask ? [{ role: "user", content: "and the clock?" }] : []),
  ]),
);
