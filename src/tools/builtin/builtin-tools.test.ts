// Tests for the built-in tool source: which tools the config turns on, and that their schemas fit constrained decoding.
import { describe, expect, it } from "vitest";
import { knowledgeSchema, toolsSchema } from "../../config/schema.js";
import { toGrammarSchema } from "../../engine/llama/json-schema-subset.js";
import { toolCallSchema } from "../../engine/tool-prompt.js";
import type { Retriever } from "../../knowledge/knowledge-types.js";
import { builtinToolSource } from "./builtin-tools.js";

const retriever: Retriever = { mode: "bm25", search: async () => [] };
const search = { enabled: true };
const http = { enabled: true, allow: [{ prefix: "http://127.0.0.1:8080/api/", methods: ["GET", "POST"] }] };

const names = (tools: Parameters<typeof toolsSchema.parse>[0], knowledge: Parameters<typeof knowledgeSchema.parse>[0], withRetriever = true) =>
  builtinToolSource({ tools: toolsSchema.parse(tools), knowledge: knowledgeSchema.parse(knowledge), retriever: withRetriever ? retriever : undefined })
    ?.tools()
    .map((tool) => tool.name) ?? [];

describe("builtinToolSource", () => {
  it("offers knowledge_search when enabled with an enabled knowledge base, http_request only when enabled with a prefix", () => {
    expect(names({}, { enabled: true })).toEqual([]);
    expect(names({ knowledge_search: search }, { enabled: true })).toEqual(["knowledge_search"]);
    expect(names({ knowledge_search: search }, { enabled: false })).toEqual([]);
    expect(names({ knowledge_search: search }, { enabled: true }, false)).toEqual([]);
    expect(names({ http_request: { enabled: true } }, {})).toEqual([]);
    expect(names({ knowledge_search: search, http_request: http }, { enabled: true })).toEqual(["knowledge_search", "http_request"]);
  });

  it("gives schemas the constrained-decoding grammar can enforce (each alone and together)", () => {
    const tools = builtinToolSource({ tools: toolsSchema.parse({ knowledge_search: search, http_request: http }), knowledge: knowledgeSchema.parse({ enabled: true }), retriever })?.tools() ?? [];
    expect(tools).toHaveLength(2);
    for (const tool of tools) expect(() => toGrammarSchema(toolCallSchema([tool]), "tools")).not.toThrow();
    expect(() => toGrammarSchema(toolCallSchema(tools), "tools")).not.toThrow();
  });

  it("asks approval for an allowed write only (confirm_writes)", () => {
    const tool = builtinToolSource({ tools: toolsSchema.parse({ http_request: http }), knowledge: knowledgeSchema.parse({}), retriever: undefined })?.tools()[0];
    const confirm = tool?.confirm as (args: Record<string, unknown>) => boolean;
    expect(confirm({ url: "http://127.0.0.1:8080/api/orders", method: "POST" })).toBe(true);
    expect(confirm({ url: "http://127.0.0.1:8080/api/orders", method: "GET" })).toBe(false);
    // Refused by the allow list anyway: the client is not asked.
    expect(confirm({ url: "http://127.0.0.1:8080/apix", method: "POST" })).toBe(false);
  });
});
