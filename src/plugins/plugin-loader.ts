// Loads the configured plugins in config order: TypeScript or JavaScript files (no build step) and built-ins by name.
import fs from "node:fs";
import path from "node:path";
import { ConfigError } from "../config/load.js";
import type { PluginEntry } from "../config/schema.js";
import { importDefaultExport } from "../extensions/import-user-module.js";
import { isPluginClass } from "./base-plugin.js";
import { builtinPlugins } from "./builtin/builtin-plugins.js";
import { instantiateDefinition, isPluginDefinition } from "./define-plugin.js";
import type { NodeTool } from "../tools/tool-types.js";
import { hookNames, type HookName, type LoadedPlugin, type PluginHooks } from "./plugin-hooks.js";
import { addPluginTool } from "./plugin-tools.js";

/** Hook names of the original Python design (and other near misses), refused with a hint instead of being ignored. */
const misnamedHooks: Readonly<Record<string, HookName>> = {
  pre_process: "preProcess",
  post_process: "postProcess",
  transform_stream: "transformStream",
  preprocess: "preProcess",
  postprocess: "postProcess",
};

/**
 * Every failure is a ConfigError naming the entry (`plugins[i]`), the file and the reason, so a node with a
 * broken plugin does not start.
 */
export async function loadPlugins(entries: readonly PluginEntry[], options: { baseDir: string }): Promise<LoadedPlugin[]> {
  const plugins: LoadedPlugin[] = [];
  for (const [index, entry] of entries.entries()) {
    if ("builtin" in entry) {
      const pluginClass = builtinPlugins[entry.builtin];
      if (!pluginClass) {
        throw new ConfigError(`plugins[${index}]: unknown builtin "${entry.builtin}"; the built-ins are ${Object.keys(builtinPlugins).join(", ")}`);
      }
      plugins.push(await describeFailure(`plugins[${index}] (builtin ${entry.builtin})`, () => instantiate(pluginClass, entry.options, entry.builtin)));
      continue;
    }
    const file = path.resolve(options.baseDir, entry.path);
    const label = `plugins[${index}] (${entry.path}${entry.path === file ? "" : ` → ${file}`})`;
    if (!fs.existsSync(file)) throw new ConfigError(`${label}: no such file`);
    const exported = await describeFailure(
      label,
      () =>
        importDefaultExport(file).catch((error: unknown) => {
          if (error instanceof TypeError && error.message === "the file has no default export") {
            throw new TypeError(`${error.message}; export default a BasePlugin subclass or definePlugin(…)`);
          }
          throw error;
        }),
      "cannot be loaded",
    );
    plugins.push(await describeFailure(label, () => instantiate(exported, entry.options, path.basename(file).replace(/\.[^.]+$/, ""))));
  }
  return plugins;
}

async function instantiate(exported: unknown, options: Record<string, unknown>, fallbackName: string): Promise<LoadedPlugin> {
  if (isPluginDefinition(exported)) return instantiateDefinition(exported, options);
  if (!isPluginClass(exported)) {
    throw new TypeError("the default export is neither a class extending BasePlugin nor the result of definePlugin(…)");
  }
  const instance = new exported(options) as unknown as Record<string, unknown> & { name?: unknown };
  for (const [wrong, right] of Object.entries(misnamedHooks)) {
    if (typeof instance[wrong] === "function") throw new TypeError(`it defines ${wrong}; the hook is called ${right}`);
  }
  const hooks: Partial<Record<HookName, unknown>> = {};
  for (const hook of hookNames) {
    const method = instance[hook];
    if (method === undefined) continue;
    if (typeof method !== "function") throw new TypeError(`${hook} is not a method`);
    hooks[hook] = method.bind(instance);
  }
  const name = typeof instance.name === "string" && instance.name.length > 0 ? instance.name : fallbackName;
  // A class offers tools with a `tools()` method returning their definitions.
  const tools: NodeTool[] = [];
  if (instance.tools !== undefined) {
    if (typeof instance.tools !== "function") throw new TypeError("tools is not a method (it returns the plugin's tool definitions)");
    const listed: unknown = await (instance.tools as () => unknown)();
    if (!Array.isArray(listed)) throw new TypeError("tools() must return an array of tool definitions");
    for (const definition of listed) addPluginTool(tools, name, definition);
  }
  if (Object.keys(hooks).length === 0 && tools.length === 0) throw new TypeError(`it implements none of the hooks ${hookNames.join(", ")} and offers no tools`);
  return { name, hooks: hooks as PluginHooks, instance, tools };
}

async function describeFailure<Value>(label: string, run: () => Promise<Value>, what = "is invalid"): Promise<Value> {
  try {
    return await run();
  } catch (error) {
    if (error instanceof ConfigError) throw error;
    const message = error instanceof Error ? error.message : String(error);
    throw new ConfigError(`${label}: ${what}: ${message}`);
  }
}
