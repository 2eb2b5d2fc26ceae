// The `knowledge` request field (frames' params, the HTTP body) and the `citations` of answers, in the protocol's snake_case.
import { z } from "zod";
import type { Citation } from "../core/types.js";
import type { KnowledgeChoice } from "../pipeline/knowledge-stage.js";

/** `false`: no retrieval; `true` (or absent): the configured collections; `{collections: [...]}`: these (1–32 names). */
export const knowledgeFieldSchema = z
  .union([
    z.boolean(),
    z.strictObject({
      collections: z.array(z.string().min(1).max(128)).min(1).max(32),
    }),
  ])
  .optional();

export type KnowledgeField = z.infer<typeof knowledgeFieldSchema>;

/** The pipeline's choice; undefined (the defaults) when the field is absent or null. */
export function toKnowledgeChoice(field: KnowledgeField | null): KnowledgeChoice | undefined {
  if (field === undefined || field === null) return undefined;
  if (typeof field === "boolean") return field;
  return { collections: [...new Set(field.collections)] };
}

export interface CitationEntry {
  index: number;
  doc_id: string;
  collection: string;
  source: string;
  chunk: number;
  score: number;
}

/** A finish's citations as the frames and the HTTP responses carry them. */
export function citationEntries(citations: readonly Citation[]): CitationEntry[] {
  return citations.map(({ index, docId, collection, source, chunk, score }) => ({ index, doc_id: docId, collection, source, chunk, score }));
}
