// The response_format field (OpenAI's shape, also in frame params): free text, any JSON object, or JSON valid against a schema.
import { z } from "zod";
import type { ResponseFormat } from "../core/types.js";

export const responseFormatSchema = z.discriminatedUnion("type", [
  z.object({ type: z.literal("text") }),
  z.object({ type: z.literal("json_object") }),
  z.object({
    type: z.literal("json_schema"),
    json_schema: z.object({
      name: z.string().min(1).max(64).optional(),
      description: z.string().optional(),
      /** Absent: any JSON object, as with json_object. */
      schema: z.record(z.string(), z.unknown()).optional(),
      /** Accepted and ignored: the schema is always enforced strictly (a schema the grammar cannot enforce is refused). */
      strict: z.boolean().nullable().optional(),
    }),
  }),
]);

export type ResponseFormatField = z.infer<typeof responseFormatSchema>;

export function toResponseFormat(field: ResponseFormatField | null | undefined): ResponseFormat | undefined {
  if (!field || field.type === "text") return undefined;
  if (field.type === "json_object" || field.json_schema.schema === undefined) return { type: "json_object" };
  return { type: "json_schema", schema: field.json_schema.schema, ...(field.json_schema.name !== undefined ? { name: field.json_schema.name } : {}) };
}
