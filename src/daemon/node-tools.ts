// The node's tool registry: built-in tools, the plugins' tools and the MCP servers' tools, in that order of precedence.
import type { ClawbotConfig } from "../config/schema.js";
import type { Retriever } from "../knowledge/knowledge-types.js";
import type { Logger } from "../logging/logger.js";
import type { PluginHost } from "../plugins/plugin-host.js";
import { builtinToolSource } from "../tools/builtin/builtin-tools.js";
import { ToolRegistry } from "../tools/tool-registry.js";
import type { ToolSource } from "../tools/tool-types.js";

export interface NodeToolsOptions {
  plugins: PluginHost;
  baseDir: string;
  logger: Logger;
  /** The knowledge base's search (for `knowledge_search`), when `knowledge.enabled`. */
  knowledge?: Retriever;
}

/** Opens every configured tool source; close() stops the MCP servers. */
export async function openNodeTools(config: ClawbotConfig, options: NodeToolsOptions): Promise<ToolRegistry> {
  const sources: ToolSource[] = [];
  // Built-ins first: a plugin or MCP tool of the same name is hidden by them (docs/tools.md).
  const builtins = builtinToolSource({ tools: config.tools, knowledge: config.knowledge, retriever: options.knowledge });
  if (builtins) sources.push(builtins);
  if (config.tools.http_request.enabled && config.tools.http_request.allow.length === 0) options.logger.warn("tools.http_request is enabled but allows no URL prefix: the tool is not offered");
  const pluginTools = options.plugins.plugins.flatMap((plugin) => plugin.tools ?? []);
  if (pluginTools.length > 0) {
    sources.push({ tools: () => pluginTools });
    const hidden = pluginTools.filter((tool) => builtins?.tools().some((builtin) => builtin.name === tool.name));
    if (hidden.length > 0) options.logger.warn({ tools: hidden.map((tool) => tool.name) }, "plugin tools hidden by built-in tools of the same name");
    options.logger.info({ tools: pluginTools.map((tool) => tool.name) }, "plugin tools loaded");
  }
  // MCP servers last; they connect in the background (a slow or broken one never holds up the start). Loaded only
  // when configured: the SDK is not small.
  if (config.tools.mcp_servers.length > 0) {
    const { McpToolSource } = await import("../tools/mcp/mcp-tool-source.js");
    sources.push(McpToolSource.start(config.tools.mcp_servers, { logger: options.logger, baseDir: options.baseDir }));
  }
  return new ToolRegistry(sources);
}
