// Every node-side tool by name, from all sources (plugins, MCP servers, built-ins): what a request may be offered.
import type { NodeTool, ToolServerStatus, ToolSource } from "./tool-types.js";

/** Whether `name` is in a grant list (`*` all; `server.*` every tool of an MCP server). */
export function granted(name: string, grant: Iterable<string> | "*"): boolean {
  if (grant === "*") return true;
  return [...grant].some((entry) => entry === "*" || entry === name || (entry.endsWith(".*") && name.startsWith(entry.slice(0, -1))));
}

export class ToolRegistry {
  private readonly sources: ToolSource[] = [];

  constructor(sources: ToolSource[] = []) {
    for (const source of sources) this.add(source);
  }

  add(source: ToolSource): void {
    this.sources.push(source);
  }

  /**
   * Every tool now, sorted by name so the catalog renders the same every turn (the prompt's start stays cached).
   * A name offered by two sources: the first source's (built-ins, then plugins in config order, then MCP servers).
   */
  all(): NodeTool[] {
    const byName = new Map<string, NodeTool>();
    for (const source of this.sources) for (const tool of source.tools()) if (!byName.has(tool.name)) byName.set(tool.name, tool);
    return [...byName.values()].sort((left, right) => (left.name < right.name ? -1 : left.name > right.name ? 1 : 0));
  }

  /** The tools in both grants (the agent's `tools` list and the roles' policy grant). */
  offered(agentAllow: Iterable<string> | "*", roleGrant: Iterable<string> | "*"): NodeTool[] {
    return this.all().filter((tool) => granted(tool.name, agentAllow) && granted(tool.name, roleGrant));
  }

  find(name: string): NodeTool | undefined {
    return this.all().find((tool) => tool.name === name);
  }

  /** Every source's servers (the MCP servers, in config order): how each is doing now. */
  servers(): ToolServerStatus[] {
    return this.sources.flatMap((source) => source.status?.() ?? []);
  }

  /** Calls `listener` when any source's tools changed; returns the unsubscribe function. */
  onChange(listener: () => void): () => void {
    const unsubscribes = this.sources.map((source) => source.onChange?.(listener));
    return () => {
      for (const unsubscribe of unsubscribes) unsubscribe?.();
    };
  }

  async close(): Promise<void> {
    await Promise.allSettled(this.sources.map((source) => source.close?.()));
  }
}
