// Turns an MCP tool call's result into the text the model reads; a result marked `isError` becomes a thrown Error.
import type { CallToolResult, ContentBlock } from "@modelcontextprotocol/sdk/types.js";

/** Bytes a base64 text decodes to. */
function base64Bytes(data: string): number {
  return Buffer.byteLength(data, "base64");
}

/** One content part as text: text as it is, anything else described briefly (`[image/png, 1234 bytes]`). */
export function contentText(part: ContentBlock): string {
  switch (part.type) {
    case "text":
      return part.text;
    case "image":
    case "audio":
      return `[${part.mimeType}, ${base64Bytes(part.data)} bytes]`;
    case "resource_link":
      return `[resource ${part.uri}${part.mimeType ? `, ${part.mimeType}` : ""}]`;
    case "resource": {
      const resource = part.resource;
      if ("text" in resource && typeof resource.text === "string") return resource.text;
      const bytes = "blob" in resource && typeof resource.blob === "string" ? base64Bytes(resource.blob) : 0;
      return `[resource ${resource.uri}, ${resource.mimeType ?? "binary"}, ${bytes} bytes]`;
    }
    default:
      return `[${(part as { type: string }).type} content]`;
  }
}

/**
 * The result as text: the content parts joined by newlines, else the structured content as JSON (or an old-style
 * `toolResult`). Throws an Error with that text when the server marked the result `isError`.
 */
export function resultText(result: CallToolResult | { toolResult: unknown }): string {
  if ("toolResult" in result && !("content" in result)) return JSON.stringify(result.toolResult) ?? "null";
  const call = result as CallToolResult;
  let text = (call.content ?? []).map(contentText).join("\n");
  if (text === "" && call.structuredContent !== undefined) text = JSON.stringify(call.structuredContent);
  if (call.isError === true) throw new Error(text || "the tool reported an error without a message");
  return text;
}
