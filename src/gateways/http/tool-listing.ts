// Node-side tools and their MCP servers as JSON, for `GET /admin/tools` and `/readyz`.
import type { NodeTool, ToolServerStatus } from "../../tools/tool-types.js";
import type { AdminToolEntry, AdminToolListing, AdminToolServer } from "./admin-services.js";

/** One MCP server's state in the API's snake_case (`last_error` null while none). */
export function toolServerJson(status: ToolServerStatus): AdminToolServer {
  return {
    name: status.name,
    transport: status.transport,
    connected: status.connected,
    tools: status.tools,
    last_error: status.lastError ?? null,
    failures: status.failures,
  };
}

/** One tool as listed: its definition, source and confirm (a per-call function shows as "per call"). */
export function toolEntryJson(tool: NodeTool): AdminToolEntry {
  return {
    name: tool.name,
    source: tool.source,
    confirm: typeof tool.confirm === "function" ? "per call" : tool.confirm,
    description: tool.description,
    parameters: tool.parameters,
  };
}

/** The listing of a tool registry (`all()` in name order, `servers()` in config order). */
export function toolListing(registry: { all(): readonly NodeTool[]; servers(): readonly ToolServerStatus[] }): AdminToolListing {
  return { tools: registry.all().map(toolEntryJson), mcp_servers: registry.servers().map(toolServerJson) };
}
