// The functional form of a plugin: definePlugin({name, setup(api)}) where setup registers hooks with api.on.
import type { NodeTool } from "../tools/tool-types.js";
import { hookNames, isHookName, pluginMarker, type HookName, type LoadedPlugin, type PluginHooks } from "./plugin-hooks.js";
import { addPluginTool, type PluginToolDefinition } from "./plugin-tools.js";

export interface PluginApi<Options extends object = Record<string, unknown>> {
  readonly name: string;
  /** The entry's `options` from the config ({} when none). */
  readonly options: Options;
  /** Registers a hook; each hook at most once. An unknown hook name throws, so the plugin fails to load. */
  on<Name extends HookName>(hook: Name, handler: NonNullable<PluginHooks[Name]>): void;
  /** Offers a tool the agent may call (docs/tools.md). A bad definition or a repeated name throws, so the plugin fails to load. */
  addTool(tool: PluginToolDefinition): void;
}

export interface PluginDefinition<Options extends object = Record<string, unknown>> {
  readonly [pluginMarker]: "definition";
  readonly name: string;
  readonly setup: (api: PluginApi<Options>) => void | Promise<void>;
}

export function definePlugin<Options extends object = Record<string, unknown>>(definition: {
  name: string;
  setup(api: PluginApi<Options>): void | Promise<void>;
}): PluginDefinition<Options> {
  if (typeof definition?.name !== "string" || definition.name.length === 0) throw new TypeError("definePlugin: name must be a non-empty string");
  if (typeof definition.setup !== "function") throw new TypeError(`definePlugin(${definition.name}): setup must be a function`);
  return { [pluginMarker]: "definition", name: definition.name, setup: definition.setup.bind(definition) };
}

export function isPluginDefinition(value: unknown): value is PluginDefinition {
  return typeof value === "object" && value !== null && (value as Record<symbol, unknown>)[pluginMarker] === "definition";
}

/** Runs a definition's setup with its options and returns the hooks it registered. */
export async function instantiateDefinition(definition: PluginDefinition, options: Record<string, unknown>): Promise<LoadedPlugin> {
  const hooks: Partial<Record<HookName, unknown>> = {};
  const tools: NodeTool[] = [];
  const api: PluginApi = {
    name: definition.name,
    options,
    on(hook, handler) {
      if (typeof hook !== "string" || !isHookName(hook)) {
        throw new TypeError(`unknown hook "${String(hook)}"; the hooks are ${hookNames.join(", ")}`);
      }
      if (typeof handler !== "function") throw new TypeError(`the handler for ${hook} must be a function`);
      if (hooks[hook] !== undefined) throw new TypeError(`${hook} is registered twice`);
      hooks[hook] = handler;
    },
    addTool(tool) {
      addPluginTool(tools, definition.name, tool);
    },
  };
  await definition.setup(api);
  if (Object.keys(hooks).length === 0 && tools.length === 0) throw new TypeError(`setup registered no hook and no tool; register one of ${hookNames.join(", ")}, or add a tool`);
  return { name: definition.name, hooks: hooks as PluginHooks, tools };
}
