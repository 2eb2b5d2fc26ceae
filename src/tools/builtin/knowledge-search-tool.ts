// The built-in `knowledge_search` tool: the model searches the knowledge base itself, within the collections its request may read.
import type { CollectionScope, RetrievedChunk, Retriever } from "../../knowledge/knowledge-types.js";
import type { NodeTool } from "../tool-types.js";

export interface KnowledgeSearchToolOptions {
  retriever: Retriever;
  /** Chunks returned when the call gives no `top_k` (config `knowledge.top_k`, at most 20). */
  defaultTopK: number;
  /** Collections searched when the call names none (config `knowledge.collections`); undefined: all it may read. */
  defaultCollections: readonly string[] | undefined;
  /** Characters the result may take (config `tools.max_result_chars`): whole chunks are kept while they fit. */
  maxChars: number;
}

/** The most chunks one call returns. */
export const maxTopK = 20;

/**
 * The `knowledge_search` tool. A named collection outside the request's `collections` is refused (the call fails with
 * a message saying so); without one it searches the default collections it may read. Returns the chunks numbered,
 * each with its document id, collection and source, as many as fit in `maxChars` (the first one cut when alone it
 * does not).
 */
export function knowledgeSearchTool(options: KnowledgeSearchToolOptions): NodeTool {
  return {
    name: "knowledge_search",
    description: "Searches the knowledge base (documents ingested on this node) and returns the best matching passages, numbered, with their document id, collection and source.",
    parameters: {
      type: "object",
      // Within the subset constrained decoding enforces (no minimum/maximum: top_k is an enum), where every listed
      // property is generated: the optional ones take null for "not given".
      properties: {
        query: { type: "string", minLength: 1, maxLength: 1000, description: "What to look for: keywords or a question." },
        collection: { type: ["string", "null"], minLength: 1, maxLength: 128, description: "Search only this collection; null: every one you may read." },
        top_k: { enum: [null, ...Array.from({ length: maxTopK }, (_, index) => index + 1)], description: "How many passages to return; null: the default." },
      },
      required: ["query"],
      additionalProperties: false,
    },
    source: "builtin",
    confirm: false,
    async run(args, context) {
      const query = String(args.query);
      const collection = typeof args.collection === "string" ? args.collection : undefined;
      const topK = typeof args.top_k === "number" ? args.top_k : Math.min(options.defaultTopK, maxTopK);
      const scope = searchScope(collection, options.defaultCollections, context.collections);
      if (scope !== "*" && scope.length === 0) return "No passages: this request may not read any of the searched collections.";
      const found = await options.retriever.search({ text: query, collections: scope, topK, signal: context.signal });
      if (found.length === 0) return `No passages in the knowledge base match "${query}".`;
      return formatChunks(found, options.maxChars);
    },
  };
}

/** The collections to search: the named one (when readable), else the defaults within what the request may read. */
function searchScope(named: string | undefined, defaults: readonly string[] | undefined, readable: readonly string[] | "*"): CollectionScope {
  if (named !== undefined) {
    if (readable !== "*" && !readable.includes(named)) throw new Error(`the knowledge collection "${named}" may not be read by this request.`);
    return [named];
  }
  if (readable === "*") return defaults ?? "*";
  return defaults ? defaults.filter((name) => readable.includes(name)) : readable;
}

/** `[n] doc_id · collection · source` and the chunk's text, for each chunk that fits in `maxChars`. */
function formatChunks(chunks: readonly RetrievedChunk[], maxChars: number): string {
  const entries: string[] = [];
  let used = 0;
  for (const [index, chunk] of chunks.entries()) {
    const entry = `[${index + 1}] doc_id: ${chunk.docId} | collection: ${chunk.collection} | source: ${chunk.source}\n${chunk.text.trim()}`;
    const separator = entries.length > 0 ? 2 : 0;
    if (used + separator + entry.length > maxChars) {
      // The best chunk alone does not fit: cut it, so the answer has at least it.
      if (entries.length === 0) entries.push(`${entry.slice(0, Math.max(0, maxChars - 40))}\n[cut]`);
      break;
    }
    entries.push(entry);
    used += separator + entry.length;
  }
  return entries.join("\n\n");
}
