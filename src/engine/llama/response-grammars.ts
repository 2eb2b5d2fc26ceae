// The grammars that hold an answer to JSON (response_format), built once per format and kept for the next request asking for it.
import { type GbnfJsonSchema, type Llama, type LlamaGrammar, LlamaGrammarEvaluationState, type LlamaModel } from "node-llama-cpp";
import { ClawError } from "../../core/errors.js";
import type { ResponseFormat } from "../../core/types.js";
import { toGrammarSchema } from "./json-schema-subset.js";

/** Distinct schemas whose grammars are kept (clients usually send the same few). */
const cachedGrammars = 32;

export class ResponseGrammars {
  /** Insertion order is use order: the first key is the least recently used. */
  private readonly grammars = new Map<string, Promise<LlamaGrammar>>();

  constructor(
    private readonly llama: Llama,
    private readonly model: LlamaModel,
  ) {}

  /**
   * A fresh grammar state for one answer in this format; undefined for free text. Throws bad_request (naming the
   * keyword) for a schema the grammar cannot enforce.
   */
  async evaluationState(format: ResponseFormat | undefined, param = "response_format"): Promise<LlamaGrammarEvaluationState | undefined> {
    if (format === undefined || format.type === "text") return undefined;
    const grammar = await this.grammarFor(format, param);
    return new LlamaGrammarEvaluationState({ model: this.model, grammar });
  }

  private grammarFor(format: Exclude<ResponseFormat, { type: "text" }>, param: string): Promise<LlamaGrammar> {
    const key = format.type === "json_object" ? "json_object" : JSON.stringify(format.schema);
    const cached = this.grammars.get(key);
    if (cached) {
      this.grammars.delete(key);
      this.grammars.set(key, cached);
      return cached;
    }
    // Checked before anything is cached: a refused schema is refused again, at no cost.
    // (Its type is node-llama-cpp's schema union, which its generic signature does not take as it is.)
    // Tool calls are validated against their schemas before they run, so what the grammar cannot enforce is left to that.
    const schema = format.type === "json_schema" ? toGrammarSchema(format.schema, param === "response_format" ? undefined : param, { validatedAfter: param === "tools" }) : undefined;
    const grammar = (schema ? this.schemaGrammar(schema) : this.llama.getGrammarFor("json")).catch((error: unknown) => {
      this.grammars.delete(key);
      if (error instanceof ClawError) throw error;
      throw new ClawError("bad_request", `The ${param} schema could not be turned into a grammar (are its lengths or item counts too large?): ${(error as Error).message}`, {
        cause: error,
        param,
      });
    });
    this.grammars.set(key, grammar);
    if (this.grammars.size > cachedGrammars) this.grammars.delete(this.grammars.keys().next().value as string);
    return grammar;
  }

  /**
   * node-llama-cpp's grammar for the schema, ending where the value ends. Its own grammar makes four newlines follow
   * the value (then any number), which its chat wrapper cuts as a stop trigger; our loop stops at the end of the
   * grammar instead, so the model can only end the answer there.
   */
  private async schemaGrammar(schema: GbnfJsonSchema): Promise<LlamaGrammar> {
    const generated = await this.llama.createGrammarForJsonSchema(schema as { type: "object" });
    const [root, ...rules] = generated.grammar.split("\n");
    if (!root?.startsWith("root ::= ") || !root.endsWith(newlinesAfterValue)) {
      throw new ClawError("internal", "node-llama-cpp's JSON-schema grammar no longer has the expected root rule; response-grammars.ts must follow it.");
    }
    return this.llama.createGrammar({ grammar: [root.slice(0, -newlinesAfterValue.length), ...rules.map(boundedNumberRule)].join("\n") });
  }
}

/**
 * node-llama-cpp's number rules allow any exponent: an "integer" such as `-1e-8` (not an integer) and numbers such as
 * `1e999` (Infinity, which JSON cannot hold). Integers get no exponent; other numbers at most two digits of one.
 */
const numberRules: Record<string, string> = {
  "integer-number-rule": '"-"? ("0" | [1-9] [0-9]{0,15})',
  "fractional-number-rule": '"-"? ("0" | [1-9] [0-9]{0,15}) ("." [0-9]{1,16})? ([eE] [-+]? [0-9]{1,2})?',
};

function boundedNumberRule(rule: string): string {
  const name = rule.slice(0, rule.indexOf(" ::= "));
  return Object.hasOwn(numberRules, name) ? `${name} ::= ${numberRules[name] as string}` : rule;
}

/** What node-llama-cpp's JSON-schema grammar adds after the value (GBNF text). */
const newlinesAfterValue = ` "${"\\n".repeat(4)}" [\\n]*`;
