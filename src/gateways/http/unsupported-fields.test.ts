// Unsupported OpenAI fields: refused by name whatever else the body holds; the defaults clients send pass.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { findUnsupportedField } from "./unsupported-fields.js";

const textMessage = fc.record({ role: fc.constantFrom("system", "user", "assistant"), content: fc.string({ maxLength: 20 }) });

describe("findUnsupportedField", () => {
  it("never throws, whatever JSON it is given", () => {
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 5 }), (value) => {
        const error = findUnsupportedField(value);
        if (error) expect(error.code).toBe("bad_request");
      }),
    );
  });

  it("refuses a content part that is not text, naming its place, after any number of text messages", () => {
    fc.assert(
      fc.property(
        fc.array(textMessage, { maxLength: 5 }),
        fc.array(fc.record({ type: fc.constant("text"), text: fc.string({ maxLength: 10 }) }), { maxLength: 3 }),
        fc.constantFrom("image_url", "input_audio", "file", "refusal"),
        (before, textParts, type) => {
          const error = findUnsupportedField({ messages: [...before, { role: "user", content: [...textParts, { type }] }] });
          expect(error?.param).toBe(`messages[${before.length}].content[${textParts.length}]`);
          expect(error?.message).toContain(`"${type}"`);
        },
      ),
    );
  });

  it("accepts text-only conversations and the default values of refused fields", () => {
    fc.assert(
      fc.property(
        fc.array(textMessage, { minLength: 1, maxLength: 5 }),
        fc.record(
          {
            tools: fc.constantFrom(null, []),
            tool_choice: fc.constantFrom(null, "none", "auto"),
            n: fc.constantFrom(null, 1),
            logit_bias: fc.constantFrom(null, {}),
            frequency_penalty: fc.constantFrom(null, 0),
            presence_penalty: fc.constantFrom(null, 0),
            modalities: fc.constantFrom(null, [], ["text"]),
            user: fc.string(),
            metadata: fc.dictionary(fc.string({ maxLength: 8 }), fc.string({ maxLength: 8 })),
          },
          { requiredKeys: [] },
        ),
        (messages, fields) => {
          expect(findUnsupportedField({ model: "m", messages, ...fields })).toBeUndefined();
        },
      ),
    );
  });

  it("names the first refused field when a body has several", () => {
    const error = findUnsupportedField({ messages: [{ role: "function", content: "x" }], n: 2, functions: [{ name: "f" }] });
    expect(error?.param).toBe("functions");
    expect(error?.message).toBe('The "functions" field (deprecated by OpenAI) is not supported by this server; send the functions as "tools".');
  });

  it("leaves tools, tool_choice, tool messages and assistant tool_calls to the schema (they are supported)", () => {
    const call = { id: "call_1", type: "function", function: { name: "weather", arguments: "{}" } };
    const body = {
      messages: [{ role: "user", content: "hi" }, { role: "assistant", content: null, tool_calls: [call] }, { role: "tool", tool_call_id: "call_1", content: "sunny" }],
      tools: [{ type: "function", function: { name: "weather" } }],
      tool_choice: "required",
      parallel_tool_calls: true,
    };
    expect(findUnsupportedField(body)).toBeUndefined();
  });

  it("refuses OpenAI's deprecated function calling by name, pointing to tools", () => {
    expect(findUnsupportedField({ messages: [], function_call: { name: "f" } })?.param).toBe("function_call");
    expect(findUnsupportedField({ messages: [{ role: "user", content: "a" }, { role: "function", name: "f", content: "b" }] })?.param).toBe("messages[1].role");
    const legacyCall = findUnsupportedField({ messages: [{ role: "assistant", content: null, function_call: { name: "f", arguments: "{}" } }] });
    expect(legacyCall?.param).toBe("messages[0].function_call");
    expect(legacyCall?.message).toMatch(/tool_calls/);
  });
});
