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
    const error = findUnsupportedField({ messages: [{ role: "tool", content: "x" }], n: 2, tools: [{ type: "function" }] });
    expect(error?.param).toBe("tools");
    expect(error?.message).toBe('The "tools" field is not supported by this server yet: it answers with text only.');
  });
});
