// Turns one jsonl/csv record into a SourceDocument: its id field, its text field (else every other field), its metadata.
import type { SourceDocument } from "./knowledge-types.js";

export interface RecordFields {
  /** The field holding the document id (`--id-field`, default `id`); absent in a record: `<relative file>:<line>`. */
  idField: string;
  /** The field holding the text (`--text-field`, default `text`); absent: every other field as `name: value` lines. */
  textField: string;
  /** Fields kept in the document's metadata (`--meta-fields`). */
  metaFields: readonly string[];
}

export const defaultRecordFields: RecordFields = { idField: "id", textField: "text", metaFields: [] };

/** The record as a document; undefined when it has no text (an empty record). */
export function recordDocument(
  record: Record<string, unknown>,
  fields: RecordFields,
  place: { relative: string; source: string; line: number },
): SourceDocument | undefined {
  const id = fieldText(record[fields.idField]);
  const docId = id !== undefined && id.trim() !== "" ? id.trim() : `${place.relative}:${place.line}`;
  let text: string;
  if (Object.hasOwn(record, fields.textField) && record[fields.textField] !== null && record[fields.textField] !== undefined) {
    text = fieldText(record[fields.textField]) ?? "";
  } else {
    // No text field: every other field as a line, so a record {id, department, diagnosis, notes} is searchable by all of them.
    text = Object.entries(record)
      .filter(([name]) => name !== fields.idField)
      .map(([name, value]) => [name, fieldText(value)] as const)
      .filter(([, value]) => value !== undefined && value.trim() !== "")
      .map(([name, value]) => `${name}: ${value}`)
      .join("\n");
  }
  if (text.trim() === "") return undefined;
  const metadata: Record<string, string> = {};
  for (const name of fields.metaFields) {
    const value = fieldText(record[name]);
    if (value !== undefined) metadata[name] = value;
  }
  return { docId, source: `${place.source}:${place.line}`, text, metadata };
}

/** A field's value as text: strings as they are, numbers and booleans printed, objects and arrays as JSON. */
function fieldText(value: unknown): string | undefined {
  if (value === null || value === undefined) return undefined;
  if (typeof value === "string") return value;
  if (typeof value === "number" || typeof value === "boolean" || typeof value === "bigint") return String(value);
  return JSON.stringify(value);
}
