// Checks a response_format JSON schema against the subset node-llama-cpp's JSON-schema grammar enforces, and rewrites it into that dialect.
import type { GbnfJsonSchema } from "node-llama-cpp";
import { ClawError } from "../../core/errors.js";

/** Keywords that only describe a value: accepted anywhere, never enforced, not passed on. */
const annotations = new Set(["title", "description", "default", "examples", "$comment", "$schema", "$id", "deprecated", "readOnly", "writeOnly", "strict"]);
const numberBounds = ["minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf"];
const keywordsOfType: Record<string, readonly string[]> = {
  string: ["minLength", "maxLength", "format", "pattern"],
  number: numberBounds,
  integer: numberBounds,
  boolean: [],
  null: [],
  object: ["properties", "required", "additionalProperties", "minProperties", "maxProperties"],
  array: ["items", "prefixItems", "minItems", "maxItems", "uniqueItems"],
};
const formats = new Set(["date-time", "time", "date"]);
/** Lengths and counts above this would expand into grammars too large to build (llama.cpp refuses repetitions over 2000). */
const maxCount = 1000;
const maxDepth = 64;
const maxNodes = 2000;
/** An integer range up to this many values is generated as their list (so the grammar enforces the bounds). */
const maxEnumeratedIntegers = 256;

export interface GrammarSchemaOptions {
  /**
   * The value is validated against the original schema after it is generated (tool calls): keywords the grammar
   * cannot enforce (number bounds it cannot enumerate, `pattern`) are left to that check instead of refused.
   */
  validatedAfter?: boolean;
}

type Json = Record<string, unknown>;

/**
 * The schema in node-llama-cpp's dialect, so the grammar it builds accepts only values valid against the original
 * (every property is then generated, no other one). Throws bad_request naming the first keyword or value it cannot
 * enforce, with its path (`param`), rather than letting the grammar ignore it.
 */
export function toGrammarSchema(schema: unknown, param = "response_format.json_schema.schema", options: GrammarSchemaOptions = {}): GbnfJsonSchema {
  return new SchemaConverter(param, options.validatedAfter === true).convert(schema, "", new Set(), 0) as GbnfJsonSchema;
}

class SchemaConverter {
  private nodes = 0;

  constructor(
    private readonly param: string,
    private readonly validatedAfter: boolean,
  ) {}

  convert(node: unknown, path: string, defs: ReadonlySet<string>, depth: number): Json {
    if (++this.nodes > maxNodes) this.refuse(path, `has more than ${maxNodes} schemas; this server builds grammars for smaller ones`);
    if (depth > maxDepth) this.refuse(path, `nests deeper than ${maxDepth} levels`);
    if (typeof node !== "object" || node === null || Array.isArray(node)) {
      this.refuse(path, `must be a schema object (${node === true ? "true, any value," : JSON.stringify(node)?.slice(0, 40)} is not supported)`);
    }
    const schema = node as Json;
    const scope = this.defsOf(schema, path, defs, depth);
    const output: Json = {};
    if (scope.converted) output.$defs = scope.converted;
    if (schema.$ref !== undefined) return { ...output, ...this.ref(schema, path, scope.names) };
    const union = schema.anyOf !== undefined ? "anyOf" : schema.oneOf !== undefined ? "oneOf" : undefined;
    if (union) return { ...output, ...this.union(schema, union, path, scope.names, depth) };
    if (schema.const !== undefined || schema.enum !== undefined) return { ...output, ...this.literals(schema, path) };
    if (schema.type === undefined) {
      // An unknown keyword (allOf, not, if, …) is the better thing to name.
      this.onlyKeywords(schema, path, [], []);
      this.refuse(path, "has no type, enum, const, anyOf, oneOf or $ref; a schema for any value is not supported");
    }
    const types = this.types(schema, path);
    this.onlyKeywords(schema, path, types.flatMap((type) => keywordsOfType[type] ?? []), ["type"]);
    if (types.length > 1) {
      return { ...output, oneOf: types.map((type) => this.typed(schema, type, path, scope.names, depth)) };
    }
    return { ...output, ...this.typed(schema, types[0] as string, path, scope.names, depth) };
  }

  private typed(schema: Json, type: string, path: string, defs: ReadonlySet<string>, depth: number): Json {
    switch (type) {
      case "string":
        return this.string(schema, path);
      case "object":
        return this.object(schema, path, defs, depth);
      case "array":
        return this.array(schema, path, defs, depth);
      case "number":
      case "integer":
        return this.number(schema, type, path);
      default:
        return { type };
    }
  }

  /**
   * A number or integer. An integer range of at most 256 values becomes their list, so the bounds are enforced; other
   * bounds are refused, or (validatedAfter) left to the check after generation.
   */
  private number(schema: Json, type: "number" | "integer", path: string): Json {
    const bounds = numberBounds.filter((key) => schema[key] !== undefined);
    if (bounds.length === 0) return { type };
    for (const key of bounds) if (typeof schema[key] !== "number" || !Number.isFinite(schema[key])) this.refuse(`${path}.${key}`, "must be a number");
    const low = Math.max(
      typeof schema.minimum === "number" ? Math.ceil(schema.minimum) : -Infinity,
      typeof schema.exclusiveMinimum === "number" ? Math.floor(schema.exclusiveMinimum) + 1 : -Infinity,
    );
    const high = Math.min(
      typeof schema.maximum === "number" ? Math.floor(schema.maximum) : Infinity,
      typeof schema.exclusiveMaximum === "number" ? Math.ceil(schema.exclusiveMaximum) - 1 : Infinity,
    );
    const step = typeof schema.multipleOf === "number" ? schema.multipleOf : 1;
    if (type === "integer" && Number.isFinite(low) && Number.isFinite(high) && high - low < maxEnumeratedIntegers * step && Number.isInteger(step) && step > 0) {
      const values: number[] = [];
      for (let value = low; value <= high; value += 1) if (value % step === 0) values.push(value);
      if (values.length === 0) this.refuse(path, "allows no integer");
      return { enum: values };
    }
    if (this.validatedAfter) return { type };
    return this.refuse(path, `uses ${bounds.map((key) => `"${key}"`).join(", ")}, which this server enforces only on integer ranges of at most ${maxEnumeratedIntegers} values`);
  }

  private string(schema: Json, path: string): Json {
    if (schema.pattern !== undefined && !this.validatedAfter) this.refuse(path, `uses "pattern", which this server cannot enforce while generating`);
    if (schema.format !== undefined) {
      if (typeof schema.format !== "string" || !formats.has(schema.format)) {
        this.refuse(`${path}.format`, `${JSON.stringify(schema.format)?.slice(0, 40)} is not supported (supported formats: ${[...formats].join(", ")})`);
      }
      if (schema.minLength !== undefined || schema.maxLength !== undefined) this.refuse(path, "combines format with minLength/maxLength, which is not supported");
      return { type: "string", format: schema.format };
    }
    const minLength = this.count(schema, "minLength", path);
    const maxLength = this.count(schema, "maxLength", path);
    if (minLength !== undefined && maxLength !== undefined && maxLength < minLength) this.refuse(path, "has maxLength below minLength");
    return { type: "string", ...(minLength !== undefined ? { minLength } : {}), ...(maxLength !== undefined ? { maxLength } : {}) };
  }

  private object(schema: Json, path: string, defs: ReadonlySet<string>, depth: number): Json {
    const properties: Json = {};
    if (schema.properties !== undefined) {
      if (!isObject(schema.properties)) this.refuse(`${path}.properties`, "must be an object");
      for (const [name, value] of Object.entries(schema.properties as Json)) {
        this.checkText(name, `${path}.properties`);
        properties[name] = this.convert(value, `${path}.properties.${name}`, defs, depth + 1);
      }
    }
    const names = Object.keys(properties);
    if (schema.required !== undefined) {
      if (!Array.isArray(schema.required) || schema.required.some((name) => typeof name !== "string")) this.refuse(`${path}.required`, "must be a list of property names");
      const missing = (schema.required as string[]).find((name) => !Object.hasOwn(properties, name));
      // Only listed properties are generated for sure: a required one must be listed.
      if (missing !== undefined) this.refuse(`${path}.required`, `names "${missing.slice(0, 64)}", which is not in properties`);
    }
    const output: Json = { type: "object", properties };
    const additional = schema.additionalProperties;
    if (additional !== undefined && additional !== false) {
      output.additionalProperties = additional === true ? true : this.convert(additional, `${path}.additionalProperties`, defs, depth + 1);
    }
    const minProperties = this.count(schema, "minProperties", path);
    const maxProperties = this.count(schema, "maxProperties", path);
    // Every listed property is always generated: bounds that exclude them cannot be met.
    if (maxProperties !== undefined && maxProperties < names.length) this.refuse(`${path}.maxProperties`, `is below the ${names.length} properties listed, which are all generated`);
    if (minProperties !== undefined && minProperties > names.length && output.additionalProperties === undefined) {
      this.refuse(`${path}.minProperties`, "asks for more properties than listed while additionalProperties is false");
    }
    if (minProperties !== undefined) output.minProperties = minProperties;
    if (maxProperties !== undefined) output.maxProperties = maxProperties;
    return output;
  }

  private array(schema: Json, path: string, defs: ReadonlySet<string>, depth: number): Json {
    if (schema.uniqueItems === true) this.refuse(`${path}.uniqueItems`, "is not supported");
    const output: Json = { type: "array" };
    if (schema.items !== undefined) {
      if (schema.items === false) this.refuse(`${path}.items`, "false is not supported");
      output.items = this.convert(schema.items, `${path}.items`, defs, depth + 1);
    }
    if (schema.prefixItems !== undefined) {
      if (!Array.isArray(schema.prefixItems)) this.refuse(`${path}.prefixItems`, "must be a list of schemas");
      output.prefixItems = (schema.prefixItems as unknown[]).map((item, index) => this.convert(item, `${path}.prefixItems.${index}`, defs, depth + 1));
    }
    const minItems = this.count(schema, "minItems", path);
    const maxItems = this.count(schema, "maxItems", path);
    if (minItems !== undefined && maxItems !== undefined && maxItems < minItems) this.refuse(path, "has maxItems below minItems");
    const prefix = (output.prefixItems as unknown[] | undefined)?.length ?? 0;
    // The grammar always generates every prefix item.
    if (maxItems !== undefined && maxItems < prefix) this.refuse(`${path}.maxItems`, `is below the ${prefix} prefixItems, which are all generated`);
    if (minItems !== undefined) output.minItems = minItems;
    if (maxItems !== undefined) output.maxItems = maxItems;
    return output;
  }

  private literals(schema: Json, path: string): Json {
    this.onlyKeywords(schema, path, ["const", "enum"], ["type"]);
    if (schema.const !== undefined && schema.enum !== undefined) this.refuse(path, "combines const and enum, which is not supported");
    const values = schema.const !== undefined ? [schema.const] : schema.enum;
    if (!Array.isArray(values) || values.length === 0) this.refuse(`${path}.enum`, "must be a non-empty list");
    const allowed = schema.type === undefined ? undefined : this.types(schema, path);
    for (const value of values as unknown[]) {
      if (value !== null && typeof value !== "string" && typeof value !== "number" && typeof value !== "boolean") {
        this.refuse(path, "lists an object or array value; only strings, numbers, booleans and null are supported in enum and const");
      }
      if (typeof value === "string") this.checkText(value, path);
      if (allowed && !allowed.some((type) => matchesType(value, type))) this.refuse(path, `lists ${JSON.stringify(value).slice(0, 40)}, which is not of its type`);
    }
    return schema.const !== undefined ? { const: schema.const } : { enum: values };
  }

  private union(schema: Json, keyword: "anyOf" | "oneOf", path: string, defs: ReadonlySet<string>, depth: number): Json {
    this.onlyKeywords(schema, path, [keyword], []);
    const branches = schema[keyword];
    if (!Array.isArray(branches) || branches.length === 0) this.refuse(`${path}.${keyword}`, "must be a non-empty list of schemas");
    // A generated value matches at least one branch: exactly anyOf (and oneOf, whose branches rarely overlap).
    return { oneOf: (branches as unknown[]).map((branch, index) => this.convert(branch, `${path}.${keyword}.${index}`, defs, depth + 1)) };
  }

  private ref(schema: Json, path: string, defs: ReadonlySet<string>): Json {
    this.onlyKeywords(schema, path, ["$ref"], []);
    const ref = schema.$ref;
    const match = typeof ref === "string" ? /^#\/(?:\$defs|definitions)\/(.+)$/.exec(ref) : null;
    if (!match) this.refuse(`${path}.$ref`, `${JSON.stringify(ref)?.slice(0, 60)} is not supported; refer to "#/$defs/<name>"`);
    const name = (match as RegExpExecArray)[1] as string;
    if (!defs.has(name)) this.refuse(`${path}.$ref`, `points to "${name.slice(0, 64)}", which is not defined in $defs`);
    return { $ref: `#/$defs/${name}` };
  }

  /** The definitions a schema brings ($defs, or draft-07 definitions), converted, and every name in scope. */
  private defsOf(schema: Json, path: string, inherited: ReadonlySet<string>, depth: number): { names: ReadonlySet<string>; converted?: Json } {
    const own = [schema.$defs, schema.definitions].filter((value) => value !== undefined);
    if (own.length === 0) return { names: inherited };
    const names = new Set(inherited);
    for (const defs of own) {
      if (!isObject(defs)) this.refuse(`${path}.$defs`, "must be an object");
      for (const name of Object.keys(defs as Json)) names.add(name);
    }
    const converted: Json = {};
    for (const defs of own) {
      for (const [name, value] of Object.entries(defs as Json)) converted[name] = this.convert(value, `${path}.$defs.${name}`, names, depth + 1);
    }
    return { names, converted };
  }

  private types(schema: Json, path: string): string[] {
    const types = Array.isArray(schema.type) ? schema.type : [schema.type];
    if (types.length === 0) this.refuse(`${path}.type`, "must not be empty");
    for (const type of types) {
      if (typeof type !== "string" || !Object.hasOwn(keywordsOfType, type)) this.refuse(`${path}.type`, `${JSON.stringify(type)?.slice(0, 40)} is not a JSON Schema type`);
    }
    return [...new Set(types as string[])];
  }

  private onlyKeywords(schema: Json, path: string, allowed: readonly string[], also: readonly string[]): void {
    for (const key of Object.keys(schema)) {
      if (annotations.has(key) || allowed.includes(key) || also.includes(key) || key === "$defs" || key === "definitions") continue;
      this.refuse(path, `uses "${key.slice(0, 64)}", which this server cannot enforce while generating`);
    }
  }

  private count(schema: Json, key: string, path: string): number | undefined {
    const value = schema[key];
    if (value === undefined) return undefined;
    if (typeof value !== "number" || !Number.isInteger(value) || value < 0 || value > maxCount) this.refuse(`${path}.${key}`, `must be an integer from 0 to ${maxCount}`);
    return value as number;
  }

  /** Property names and string literals become grammar text: control characters would need escapes it cannot write. */
  private checkText(text: string, path: string): void {
    // eslint-disable-next-line no-control-regex
    if (/[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]/.test(text)) this.refuse(path, "holds a control character in a name or literal, which is not supported");
    if (text.length > 256) this.refuse(path, "holds a name or literal longer than 256 characters");
  }

  private refuse(path: string, problem: string): never {
    const where = `${this.param}${path}`;
    const what = this.param.startsWith("tools") ? "tool parameters" : "response_format";
    throw new ClawError("bad_request", `Unsupported ${what} schema: ${where} ${problem}.`, { param: where });
  }
}

function isObject(value: unknown): boolean {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function matchesType(value: unknown, type: string): boolean {
  switch (type) {
    case "integer":
      return Number.isInteger(value);
    case "null":
      return value === null;
    default:
      return typeof value === type;
  }
}
