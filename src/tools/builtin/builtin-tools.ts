// The node's built-in tools as one tool source: `knowledge_search` (with a knowledge base) and `http_request` (when allowed).
import type { KnowledgeConfig } from "../../config/schema.js";
import type { ToolsConfig } from "../../config/tools-schema.js";
import type { Retriever } from "../../knowledge/knowledge-types.js";
import type { NodeTool, ToolSource } from "../tool-types.js";
import { httpRequestTool } from "./http-request-tool.js";
import { knowledgeSearchTool } from "./knowledge-search-tool.js";

export interface BuiltinToolsInput {
  tools: ToolsConfig;
  knowledge: KnowledgeConfig;
  /** The knowledge base's search, when `knowledge.enabled` (the node opened it). */
  retriever: Retriever | undefined;
}

/**
 * The built-in tools the config turns on: `knowledge_search` when `knowledge.enabled`, `tools.knowledge_search.enabled`
 * and a retriever; `http_request` when `tools.http_request.enabled` with at least one allowed prefix. Undefined when none.
 */
export function builtinToolSource(input: BuiltinToolsInput): ToolSource | undefined {
  const tools: NodeTool[] = [];
  if (input.knowledge.enabled && input.tools.knowledge_search.enabled && input.retriever) {
    tools.push(
      knowledgeSearchTool({
        retriever: input.retriever,
        defaultTopK: input.knowledge.top_k,
        defaultCollections: input.knowledge.collections,
        maxChars: input.tools.max_result_chars,
      }),
    );
  }
  const http = httpRequestTool(input.tools.http_request);
  if (http) tools.push(http);
  if (tools.length === 0) return undefined;
  return { tools: () => tools };
}
