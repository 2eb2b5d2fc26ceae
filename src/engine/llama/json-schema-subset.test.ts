import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { ClawError } from "../../core/errors.js";
import { toGrammarSchema } from "./json-schema-subset.js";

function refusal(schema: unknown): ClawError {
  try {
    toGrammarSchema(schema);
  } catch (error) {
    if (error instanceof ClawError) return error;
    throw error;
  }
  throw new Error("the schema was accepted");
}

describe("toGrammarSchema", () => {
  it("rewrites what JSON Schema generators emit into node-llama-cpp's dialect", () => {
    const schema = {
      $schema: "https://json-schema.org/draft/2020-12/schema",
      title: "Pet",
      type: "object",
      properties: {
        name: { type: ["string", "null"], maxLength: 8, description: "its name" },
        kind: { type: "string", enum: ["cat", "dog"] },
        owner: { $ref: "#/definitions/Person" },
        tags: { type: "array", items: { anyOf: [{ type: "integer" }, { const: "none" }] }, maxItems: 3 },
      },
      required: ["name", "kind"],
      additionalProperties: false,
      definitions: { Person: { type: "object", properties: { born: { type: "string", format: "date" } } } },
    };
    expect(toGrammarSchema(schema)).toEqual({
      $defs: { Person: { type: "object", properties: { born: { type: "string", format: "date" } } } },
      type: "object",
      properties: {
        name: { oneOf: [{ type: "string", maxLength: 8 }, { type: "null" }] },
        kind: { enum: ["cat", "dog"] },
        owner: { $ref: "#/$defs/Person" },
        tags: { type: "array", items: { oneOf: [{ type: "integer" }, { const: "none" }] }, maxItems: 3 },
      },
    });
  });

  it("refuses, naming the keyword and its path, what the grammar would silently ignore", () => {
    const cases: [unknown, string, string][] = [
      [{ type: "string", pattern: "^a" }, '"pattern"', "response_format.json_schema.schema"],
      [{ type: "object", properties: { age: { type: "integer", minimum: 0 } } }, '"minimum"', "response_format.json_schema.schema.properties.age"],
      [{ type: "string", format: "email" }, "email", "response_format.json_schema.schema.format"],
      [{ allOf: [{ type: "string" }] }, '"allOf"', "response_format.json_schema.schema"],
      [{}, "any value", "response_format.json_schema.schema"],
      [{ type: "object", properties: { a: true } }, "true", "response_format.json_schema.schema.properties.a"],
      [{ type: "object", properties: { a: { type: "string" } }, required: ["b"] }, '"b"', "response_format.json_schema.schema.required"],
      [{ $ref: "#/$defs/Missing" }, "Missing", "response_format.json_schema.schema.$ref"],
      [{ $ref: "https://example.com/schema" }, "#/$defs/", "response_format.json_schema.schema.$ref"],
      [{ type: "array", uniqueItems: true }, "uniqueItems", "response_format.json_schema.schema.uniqueItems"],
      [{ type: "string", maxLength: 100000 }, "1000", "response_format.json_schema.schema.maxLength"],
      [{ type: "string", minLength: 5, maxLength: 2 }, "below", "response_format.json_schema.schema"],
      [{ type: "object", properties: { a: { type: "string" }, b: { type: "string" } }, maxProperties: 1 }, "all generated", "response_format.json_schema.schema.maxProperties"],
      [{ enum: [{ a: 1 }] }, "object or array", "response_format.json_schema.schema"],
      [{ type: "integer", enum: [1, "two"] }, '"two"', "response_format.json_schema.schema"],
      [{ type: "date" }, '"date"', "response_format.json_schema.schema.type"],
      [{ type: "object", properties: { "a\u0001": { type: "string" } } }, "control character", "response_format.json_schema.schema.properties"],
      [{ type: "string", nullable: true }, '"nullable"', "response_format.json_schema.schema"],
    ];
    for (const [schema, named, param] of cases) {
      const error = refusal(schema);
      expect(error.code).toBe("bad_request");
      expect(error.message).toContain(named);
      expect(error.param).toBe(param);
    }
  });

  it("refuses schemas too deep or too large to build a grammar for", () => {
    let deep: Record<string, unknown> = { type: "string" };
    for (let level = 0; level < 100; level++) deep = { type: "array", items: deep };
    expect(refusal(deep).message).toContain("deeper");
    const wide = { type: "object", properties: Object.fromEntries(Array.from({ length: 3000 }, (_, index) => [`p${index}`, { type: "string" }])) };
    expect(refusal(wide).message).toContain("more than");
  });

  it("on any schema-like value, returns a schema or throws bad_request, nothing else", () => {
    const keyword = fc.constantFrom("type", "properties", "items", "prefixItems", "enum", "const", "anyOf", "oneOf", "allOf", "$ref", "$defs", "required",
      "additionalProperties", "minLength", "maxLength", "minItems", "maxItems", "format", "pattern", "minimum", "title", "definitions");
    const leaf = fc.oneof(
      fc.constantFrom("string", "integer", "object", "array", "null", "#/$defs/a", "#/definitions/a", "date", "uuid"),
      fc.integer({ min: -2, max: 2000 }),
      fc.boolean(),
      fc.constant(null),
    );
    const { schema } = fc.letrec<{ schema: unknown; value: unknown }>((tie) => ({
      schema: fc.dictionary(keyword, tie("value"), { maxKeys: 4 }),
      value: fc.oneof({ depthSize: "small" }, leaf, tie("schema"), fc.array(tie("value"), { maxLength: 3 }), fc.dictionary(fc.constantFrom("a", "b", "\u0001"), tie("schema"), { maxKeys: 2 })),
    }));
    fc.assert(
      fc.property(schema, (value) => {
        try {
          expect(typeof toGrammarSchema(value)).toBe("object");
        } catch (error) {
          expect(error).toBeInstanceOf(ClawError);
          expect((error as ClawError).code).toBe("bad_request");
        }
      }),
      { numRuns: 2000 },
    );
  });

  it("generates small integer ranges as their values; other bounds are refused, or left to the check after generation (tool calls)", () => {
    expect(toGrammarSchema({ type: "integer", minimum: 1, maximum: 3 })).toEqual({ enum: [1, 2, 3] });
    expect(toGrammarSchema({ type: "integer", exclusiveMinimum: 0, maximum: 10, multipleOf: 5 })).toEqual({ enum: [5, 10] });
    for (const bounded of [{ type: "integer", minimum: 0, maximum: 1000 }, { type: "integer", minimum: 1 }, { type: "number", minimum: 0.5, maximum: 2 }]) {
      expect(() => toGrammarSchema(bounded)).toThrow(/which this server enforces only on integer ranges/);
      expect(toGrammarSchema(bounded, "tools.x.parameters", { validatedAfter: true })).toEqual({ type: bounded.type });
    }
    expect(() => toGrammarSchema({ type: "string", pattern: "^a" })).toThrow(/"pattern"/);
    expect(toGrammarSchema({ type: "string", pattern: "^a" }, "tools.x.parameters", { validatedAfter: true })).toEqual({ type: "string" });
    expect(() => toGrammarSchema({ type: "integer", minimum: 3, maximum: 2 })).toThrow(/allows no integer/);
  });
});

